"""The ``expertloop`` command."""

from __future__ import annotations

import typer

from expertloop.cli import (
    db,
    experts,
    imports,
    jobs,
    models,
    payouts,
    projects,
    rates,
    snapshots,
    users,
)
from expertloop.cli.demo import demo
from expertloop.cli.serve import serve

app = typer.Typer(
    name="expertloop",
    help="ExpertLoop: expert-in-the-loop AI training programs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve)
app.command("demo")(demo)
app.command("worker")(jobs.worker)
app.command("import")(imports.import_cmd)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(models.app, name="models")
app.add_typer(projects.app, name="projects")
app.add_typer(payouts.app, name="payouts")
app.add_typer(rates.app, name="rates")
app.add_typer(jobs.app, name="jobs")
app.add_typer(snapshots.app, name="snapshots")
app.add_typer(experts.app, name="experts")


def main() -> None:
    """Run the CLI."""
    app()
