"""``expertloop payouts``: run payouts (idempotent, dry run), list runs, write payout files."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.cli.common import console, db_session, fail, settings
from expertloop.cli.jobs import job_queue, print_outcome, wait_for_job
from expertloop.cli.projects import _operator
from expertloop.payments import money, payouts, reports
from expertloop.payments import tasks as payment_tasks
from expertloop.payments.models import Payout, PayoutRun
from expertloop.settings import Settings

app = typer.Typer(help="Payout runs (operators).", no_args_is_help=True)

_PERIOD = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")
_PERIOD_HELP = "START..END, ISO dates, both included, e.g. 2026-11-16..2026-11-22."


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """Parse ``START..END`` (ISO dates, both included), or exit with a clear message."""
    match = _PERIOD.match(text)
    if match is None:
        raise fail(f"{escape(repr(text))} is not a period: use {_PERIOD_HELP}")
    try:
        start, end = (dt.date.fromisoformat(part) for part in match.groups())
    except ValueError as exc:
        raise fail(f"{escape(repr(text))} is not a period: {exc}.") from None
    if end < start:
        raise fail(f"The period {escape(repr(text))} ends before it starts.")
    return start, end


def default_key(start: dt.date, end: dt.date) -> str:
    """The idempotency key a run gets without ``--key``: the same period, the same key."""
    return f"cli:{start.isoformat()}..{end.isoformat()}"


def _emails(session: Session, user_ids: Iterable[int]) -> dict[int, User]:
    ids = set(user_ids)
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}


def _totals(items: Iterable[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for currency, amount in items:
        totals[currency] += amount
    return dict(sorted(totals.items()))


def _print_totals(totals: dict[str, int], label: str) -> None:
    if not totals:
        return
    shown = ", ".join(money.format_money(v, c) for c, v in totals.items())
    console.print(f"{label}: [bold]{shown}[/]")


def _payee_table(
    title: str, session: Session, rows: list[tuple[int, str, int]], total_label: str
) -> None:
    people = _emails(session, (uid for uid, _, _ in rows))
    table = Table(title=title)
    for col in ("expert", "email", "currency", "amount"):
        table.add_column(col, justify="right" if col == "amount" else "left", overflow="fold")
    for user_id, currency, amount in rows:
        user = people.get(user_id)
        table.add_row(
            escape(user.name) if user else f"user #{user_id}",
            escape(user.email) if user else "",
            currency,
            money.format_money(amount, currency),
        )
    console.print(table)
    _print_totals(_totals((c, a) for _, c, a in rows), total_label)


@app.command("run")
def run_cmd(
    period: str = typer.Option(..., "--period", help=f"The pay period: {_PERIOD_HELP}"),
    key: str = typer.Option(
        "", "--key", help="Idempotency key (default: cli:START..END, so a rerun never pays twice)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show who would get what; write nothing."
    ),
    inline: bool = typer.Option(
        False, "--inline", help="Pay in this process instead of through the job queue."
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Queue the run and return at once (a worker makes it)."
    ),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Pay every expert what they are owed up to the end of the period, exactly once.

    The run goes through the job queue (a worker makes it; this command follows it with a
    progress bar); with --inline, or EXPERTLOOP_JOBS_IMMEDIATE set, it is made in this process.
    """
    start, end = parse_period(period)
    run_key = key.strip() or default_key(start, end)
    cfg = settings()
    if not dry_run and not inline and not cfg.jobs_immediate:
        _run_queued(cfg, operator, start, end, run_key, wait=not no_wait)
        return
    with db_session(cfg) as session:
        actor = _operator(session, operator)
        if dry_run:
            _dry_run(session, actor, start, end, run_key, cfg.billing_margin_bp)
            return
        existing = session.scalar(select(PayoutRun).where(PayoutRun.idempotency_key == run_key))
        if existing is not None:  # the same answer again (or a 409 for another period)
            result = _run(session, actor, start, end, run_key, cfg.billing_margin_bp)
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("Paying experts", total=None)

                def progress(index: int, total: int) -> None:
                    bar.update(task, completed=index, total=total)

                result = _run(session, actor, start, end, run_key, cfg.billing_margin_bp, progress)
                if not result.payouts:
                    bar.update(task, completed=0, total=0)
        _report(session, result.run, result.payouts, result.created, end)


def _run_queued(
    cfg: Settings, operator: str, start: dt.date, end: dt.date, key: str, *, wait: bool
) -> None:
    with job_queue(cfg) as queue:
        with db_session(cfg) as session:
            actor = _operator(session, operator)
            job = payment_tasks.submit_run(
                session=session,
                queue=queue,
                actor=actor,
                period_start=start,
                period_end=end,
                idempotency_key=key,
                default_margin_bp=cfg.billing_margin_bp,
            )
            job_id = job.id
        if not wait:
            console.print(
                f"Payout run queued as job {job_id}: follow it with "
                f"[bold]expertloop jobs show {job_id} --wait[/]."
            )
            return
        finished = wait_for_job(queue, job_id)
    print_outcome(finished)
    result = finished.result or {}
    with db_session(cfg) as session:
        actor = _operator(session, operator)
        run = payouts.get_run(session=session, actor=actor, run_id=int(result["run_id"]))
        made = payouts.payouts_of(session=session, run_id=run.id)
        _report(session, run, made, bool(result.get("created")), end)


def _report(
    session: Session, run: PayoutRun, made: list[Payout], created: bool, end: dt.date
) -> None:
    if not created:
        console.print(
            f"[yellow]Already ran[/] (run #{run.id}): key {escape(repr(run.idempotency_key))} "
            f"was used on {run.created_at:%Y-%m-%d %H:%M} UTC; nobody was paid again."
        )
        console.print(
            "To pay what became owed since, run again with a new --key (nobody is paid twice)."
        )
    else:
        console.print(
            f"[green]Payout run #{run.id}[/] (key {escape(repr(run.idempotency_key))}): "
            f"{len(made)} payout(s) of what was owed up to {end.isoformat()}."
        )
    if made:
        rows = [(p.user_id, p.currency, p.amount_minor) for p in made]
        _payee_table(f"Payout run #{run.id}", session, rows, "Total paid")
    else:
        console.print(f"Nobody was owed anything up to {end.isoformat()}.")
    console.print(
        f"Payout file: [bold]expertloop payouts file {run.id} --out payouts-run-{run.id}.csv[/]"
    )


def _run(
    session: Session,
    actor: User,
    start: dt.date,
    end: dt.date,
    key: str,
    margin_bp: int,
    progress: Callable[[int, int], None] | None = None,
) -> payouts.RunResult:
    return payouts.require_run(
        payouts.run(
            session=session,
            actor=actor,
            period_start=start,
            period_end=end,
            idempotency_key=key,
            default_margin_bp=margin_bp,
            progress=progress,
        )
    )


def _dry_run(
    session: Session, actor: User, start: dt.date, end: dt.date, key: str, margin_bp: int
) -> None:
    existing = session.scalar(select(PayoutRun).where(PayoutRun.idempotency_key == key))
    owed = payouts.run(
        session=session,
        actor=actor,
        period_start=start,
        period_end=end,
        idempotency_key=key,
        default_margin_bp=margin_bp,
        dry_run=True,
    )
    assert isinstance(owed, list)
    if existing is not None:
        console.print(
            f"[yellow]Already ran[/] (run #{existing.id}, key {escape(repr(key))}): running it "
            "pays nobody again. Below: what a run with a new --key would pay."
        )
    rows = [(o.user_id, o.currency, o.amount_minor) for o in owed]
    if rows:
        _payee_table(f"Dry run: owed up to {end.isoformat()}", session, rows, "Total")
    else:
        console.print(f"Nobody is owed anything up to {end.isoformat()}.")
    console.print("[bold]Dry run: nothing was written.[/]")


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    limit: int = typer.Option(50, min=1, max=10_000),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """List payout runs, newest first, with their totals."""
    with db_session() as session:
        _operator(session, operator)
        runs = [
            (run, payouts.payouts_of(session=session, run_id=run.id))
            for run in payouts.list_runs(session=session, limit=limit)
        ]
        if as_json:
            items = [
                {
                    "id": run.id,
                    "idempotency_key": run.idempotency_key,
                    "period_start": run.period_start.isoformat(),
                    "period_end": run.period_end.isoformat(),
                    "created_at": run.created_at.isoformat(),
                    "payouts": len(made),
                    "totals_minor": _totals((p.currency, p.amount_minor) for p in made),
                }
                for run, made in runs
            ]
            typer.echo(json.dumps(items, indent=2))
            return
        table = Table(title=f"Payout runs ({len(runs)})")
        for col in ("id", "period", "key", "created (UTC)", "payouts", "totals"):
            table.add_column(col, overflow="fold", no_wrap=col in ("id", "period"))
        for run, made in runs:
            totals = _totals((p.currency, p.amount_minor) for p in made)
            table.add_row(
                str(run.id),
                f"{run.period_start.isoformat()}..{run.period_end.isoformat()}",
                escape(run.idempotency_key),
                f"{run.created_at:%Y-%m-%d %H:%M}",
                str(len(made)),
                ", ".join(money.format_money(v, c) for c, v in totals.items()) or "-",
            )
        console.print(table)


@app.command("file")
def file_cmd(
    run_id: int = typer.Argument(..., help="The payout run's id (see `payouts list`)."),
    out: Path | None = typer.Option(None, "--out", help="Write the CSV here (default: print it)."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Write a run's payout file (CSV for the bank or payment provider)."""
    with db_session() as session:
        actor = _operator(session, operator)
        run = payouts.get_run(session=session, actor=actor, run_id=run_id)
        text = reports.payout_file(session=session, run_id=run.id)
        count = len(payouts.payouts_of(session=session, run_id=run.id))
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise fail(escape(f"Cannot write {out}: {exc.strerror or exc}.")) from None
    console.print(f"Wrote {count} payout(s) of run #{run_id} to {out}.")
