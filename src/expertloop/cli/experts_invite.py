"""``expertloop experts invite``: invite prospective experts by address or from a CSV file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from expertloop.cli.common import console, db_session, err_console, fail, settings
from expertloop.cli.projects import _operator
from expertloop.errors import ValidationFailed
from expertloop.experts import invitations
from expertloop.experts.invitations import InviteResult, InviteRow, InviteSummary
from expertloop.mail import mailer_from_settings


def _lines(path: Path, progress: Progress, task: TaskID) -> Iterator[str]:
    """Yield the file's lines one at a time, advancing the bar by the bytes read."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            for line in handle:
                progress.advance(task, len(line.encode()))
                yield line
        except UnicodeDecodeError:
            raise ValidationFailed(
                f"{path} is not UTF-8 text; save the CSV as UTF-8 and try again."
            ) from None


def _print(result: InviteResult, show_links: bool) -> None:
    where = f"row {result.row}" if result.row is not None else "address"
    line = Text()
    if result.outcome == invitations.Outcome.failed:
        line.append(f"{where}: ", style="bold red")
        line.append(result.email or "—")
        line.append(f" — {result.message}")
        err_console.print(line)
        return
    line.append(f"{result.outcome.value.replace('_', ' ')}: ", style="green")
    line.append(result.email)  # typed text: no Rich markup from it
    if result.outcome not in invitations.SENT:
        line.append(f" — {result.message}", style="dim")
    elif result.mail_error:
        line.append(f" — {result.mail_error}", style="yellow")
    if show_links and result.link:
        line.append(f"  {result.link}")
    console.print(line)


def invite_cmd(
    emails: list[str] = typer.Argument(None, help="Addresses to invite.", show_default=False),
    csv_file: Path | None = typer.Option(
        None,
        "--csv",
        exists=True,
        dir_okay=False,
        readable=True,
        help="A UTF-8 CSV file with a header row email,name,domain (email required).",
    ),
    name: str = typer.Option("", help="The person's name (with one address)."),
    domain: str = typer.Option("", help="The domain they are invited in (a taxonomy key)."),
    resend: bool = typer.Option(
        False, "--resend", help="Send a fresh link even when the earlier one still works."
    ),
    show_links: bool = typer.Option(
        False, "--show-links", help="Print the links (they are shown this once; the mail has them)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Invite prospective experts; each gets a single-use link by mail. Exit 1 if a row failed.

    A CSV that stops being readable midway (not UTF-8 further on) keeps the rows done before,
    prints them and the error, and exits 1.
    """
    emails = emails or []
    if bool(emails) == bool(csv_file):
        raise fail("Give addresses or --csv FILE (one of the two).")
    if csv_file is not None and (name or domain):
        raise fail("--name and --domain are for addresses; a CSV has its own columns.")
    cfg = settings()
    mailer = mailer_from_settings(cfg)
    summary = InviteSummary()
    results: list[dict[str, object]] = []
    error = ""
    with db_session(cfg) as session:
        actor = _operator(session, operator)
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        )
        with progress:
            if csv_file is not None:
                task = progress.add_task("Inviting", total=csv_file.stat().st_size)
                stream = invitations.invite_csv(
                    session, actor=actor, lines=_lines(csv_file, progress, task),
                    settings=cfg, mailer=mailer,
                )  # fmt: skip
            else:
                task = progress.add_task("Inviting", total=len(emails))
                rows = [InviteRow(email=e, name=name, domain=domain) for e in emails]
                if resend:
                    stream = (
                        invitations.invite(
                            session,
                            actor=actor,
                            email=r.email,
                            name=r.name,
                            domain=r.domain,
                            settings=cfg,
                            mailer=mailer,
                            resend=True,
                        )
                        for r in rows
                    )
                else:
                    stream = invitations.invite_many(
                        session, actor=actor, rows=rows, settings=cfg, mailer=mailer
                    )
            try:
                for result in stream:
                    if csv_file is None:
                        progress.advance(task)
                    summary.add(result)
                    if as_json:
                        item: dict[str, object] = {
                            "row": result.row,
                            "email": result.email,
                            "outcome": result.outcome.value,
                            "message": result.message,
                            "candidate_id": result.candidate_id,
                            "mailed": result.mailed,
                        }
                        if show_links:
                            item["link"] = result.link
                        results.append(item)
                    else:
                        _print(result, show_links)
            except ValidationFailed as exc:
                # The file stopped being readable midway: the rows done are kept (committed
                # below, their mails carry working links), reported, and the error said.
                error = exc.message
    counts = {k: n for k, n in summary.counts.items() if n}
    if as_json:
        out: dict[str, object] = {"results": results, "counts": summary.counts}
        if error:
            out["error"] = error
        typer.echo(json.dumps(out, indent=2))
    else:
        words = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items()) or "nothing"
        console.print(f"Done: {words}.")
        if not show_links and any(k in counts for k in ("invited", "reinvited")):
            console.print("[dim]The links went out by mail (--show-links prints them).[/]")
    if error:
        err_console.print(Text(f"Stopped: {error} The rows above were done and kept."))
    if summary.failed or error:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this part's commands to the ``experts`` group."""
    app.command("invite")(invite_cmd)
