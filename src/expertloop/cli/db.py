"""``expertloop db``: migrate and inspect the schema."""

from __future__ import annotations

import typer

from expertloop.cli.common import console, settings
from expertloop.db import make_engine, schema_revisions, upgrade

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to the latest schema (or REVISION)."""
    engine = make_engine(settings())
    try:
        with console.status("Migrating…"):
            upgrade(engine, revision)
        current, _ = schema_revisions(engine)
    finally:
        engine.dispose()
    console.print(f"[green]Database at {', '.join(sorted(current)) or 'base'}.[/]")


@app.command("current")
def current_cmd() -> None:
    """Show the database's revision and the code's head."""
    engine = make_engine(settings())
    try:
        current, heads = schema_revisions(engine)
    finally:
        engine.dispose()
    state = (
        "[green]up to date[/]"
        if current == heads
        else "[yellow]behind: run `expertloop db upgrade`[/]"
    )
    db_rev = ", ".join(sorted(current)) or "empty"
    console.print(f"database: {db_rev}; code: {', '.join(sorted(heads))}; {state}")
    if current != heads:
        raise typer.Exit(1)
