"""``expertloop experts banks install`` and ``experts banks list``: the assessments' question
banks in a shell."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from expertloop.cli.common import console, db_session, fail
from expertloop.cli.projects import _operator
from expertloop.errors import ExpertLoopError
from expertloop.experts import question_banks
from expertloop.experts.schemas import BankOut

banks = typer.Typer(help="The domain assessments' question banks.", no_args_is_help=True)


@banks.command("install")
def install_cmd(
    directory: Path | None = typer.Option(
        None,
        "--from",
        help="A folder of bank files (*.json) instead of the shipped ones.",
        exists=True,
        file_okay=False,
    ),
) -> None:
    """Install (or update) the shipped question banks; running it again changes nothing."""
    try:
        with db_session() as session:
            report = question_banks.install(session, directory=directory)
    except ExpertLoopError as exc:
        raise fail(exc.message) from None
    console.print(
        f"Banks: {', '.join(report.banks) or 'none'}. Created {report.banks_created} bank(s) "
        f"and {report.questions_created} question(s); updated {report.questions_updated}."
    )


@banks.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """List the question banks with their rules and question counts."""
    with db_session() as session:
        actor = _operator(session, operator)
        rows = question_banks.list_banks(session, actor=actor)
        if as_json:
            out = [BankOut.from_summary(s).model_dump(mode="json") for s in rows]
            typer.echo(json.dumps(out, indent=2))
            return
        if not rows:
            console.print("No question bank; run `expertloop experts banks install`.")
            return
        table = Table(title=f"Question banks ({len(rows)})")
        for col in ("id", "domain", "title", "active/all", "drawn", "minutes", "pass", "pause h"):
            table.add_column(col, overflow="fold")
        for s in rows:
            b = s.bank
            table.add_row(
                str(b.id),
                b.domain,
                Text(b.title),  # an operator's text: no Rich markup from it
                f"{s.active}/{s.total}",
                str(b.question_count),
                str(b.time_limit_seconds // 60),
                f"{b.pass_percent}%",
                str(b.cooldown_hours),
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``banks`` group to the ``experts`` group."""
    app.add_typer(banks, name="banks")
