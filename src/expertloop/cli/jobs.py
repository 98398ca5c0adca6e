"""``expertloop worker`` and ``expertloop jobs list|show``; ``wait_for_job`` for long commands."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from expertloop.cli.common import console, db_session, fail, settings
from expertloop.cli.projects import _operator
from expertloop.db import make_engine, make_session_factory, transaction
from expertloop.jobs import records
from expertloop.jobs.models import Job, JobStatus
from expertloop.jobs.queue import JobQueue
from expertloop.jobs.schemas import JobOut
from expertloop.llm.hub import ModelHub
from expertloop.settings import Settings
from expertloop.web.wiring import build_queue

app = typer.Typer(help="Background jobs: list them, follow one.", no_args_is_help=True)

# A job still queued after this long probably has no worker to take it.
NO_WORKER_HINT_SECONDS = 5.0


@contextmanager
def job_queue(cfg: Settings) -> Iterator[JobQueue]:
    """Build the job queue for a CLI command (its own engine, closed afterwards)."""
    engine = make_engine(cfg)
    try:
        yield build_queue(cfg, make_session_factory(engine), ModelHub.from_settings(cfg))
    finally:
        engine.dispose()


def job_dict(job: Job) -> dict[str, Any]:
    """Return a job as the API shows it."""
    return JobOut.model_validate(job).model_dump(mode="json")


def wait_for_job(queue: JobQueue, job_id: int, *, quiet: bool = False) -> Job:
    """Follow a job with a Rich progress bar until it ends; return its final row."""
    started = time.monotonic()
    hinted = False
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as progress:
        task = progress.add_task(f"job {job_id}", total=None, note="queued")
        while True:
            with transaction(queue.session_factory) as session:
                job = session.get(Job, job_id)
                if job is None:
                    raise fail(f"Job {job_id} does not exist.")
                session.expunge(job)
            progress.update(
                task,
                total=job.progress_total,
                completed=job.progress_done,
                note=job.progress_note or job.status.value,
            )
            if job.finished:
                return job
            waited = time.monotonic() - started
            if job.status == JobStatus.queued and waited > NO_WORKER_HINT_SECONDS and not hinted:
                hinted = True
                progress.console.print(
                    "[yellow]Still queued: is a worker running? Start one with "
                    "`expertloop worker` (the demo and `serve --with-worker` run their own).[/]"
                )
            time.sleep(0.3)


def print_outcome(job: Job) -> None:
    """Say how a job ended, and exit non-zero unless it is done."""
    if job.status == JobStatus.done:
        console.print(f"[green]Job {job.id} done.[/]")
        return
    raise fail(f"Job {job.id} {job.status.value}: {job.error or 'no reason given'}")


def worker(
    threads: int = typer.Option(
        0, min=0, help="Worker threads (default: EXPERTLOOP_WORKER_THREADS)."
    ),
) -> None:
    """Run a job worker until stopped (Ctrl+C finishes running jobs, a second one stops at once)."""
    cfg = settings()
    if cfg.jobs_immediate:
        raise fail("EXPERTLOOP_JOBS_IMMEDIATE is set: jobs run inside requests, no worker needed.")
    with job_queue(cfg) as queue:
        where = cfg.redis_url or str((cfg.data_dir / "queue.sqlite3").resolve())
        console.print(
            f"Worker started on [bold]{where}[/] with {threads or cfg.worker_threads} threads"
        )
        queue.reap()
        queue.consumer(workers=threads or None).run()


@app.command("list")
def list_cmd(
    status: JobStatus | None = typer.Option(None, help="Only jobs in this state."),
    kind: str | None = typer.Option(None, help="Only jobs of this kind."),
    limit: int = typer.Option(50, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """List jobs, newest first."""
    with db_session() as session:
        actor = _operator(session, operator)
        rows, total = records.list_jobs(
            session=session, actor=actor, status=status, kind=kind, limit=limit
        )
        if as_json:
            typer.echo(json.dumps([job_dict(j) for j in rows], indent=2))
            return
        table = Table(title=f"Jobs ({len(rows)} of {total})")
        for col in ("id", "kind", "title", "status", "progress", "created", "error"):
            table.add_column(col)
        for j in rows:
            done = (
                f"{j.progress_done}/{j.progress_total}"
                if j.progress_total
                else str(j.progress_done)
            )
            table.add_row(
                str(j.id),
                j.kind,
                j.title,
                j.status.value,
                done,
                j.created_at.strftime("%Y-%m-%d %H:%M"),
                j.error[:60],
            )
        console.print(table)


@app.command("show")
def show_cmd(
    job_id: int,
    wait: bool = typer.Option(False, "--wait", help="Follow the job until it ends."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Show one job (with --wait: follow it with a progress bar until it ends)."""
    cfg = settings()
    with db_session(cfg) as session:
        actor = _operator(session, operator)
        job = records.get_job(session=session, job_id=job_id, actor=actor)
        session.expunge(job)
    if wait and not job.finished:
        with job_queue(cfg) as queue:
            job = wait_for_job(queue, job_id, quiet=as_json)
    if as_json:
        typer.echo(json.dumps(job_dict(job), indent=2))
        return
    table = Table(show_header=False, title=f"Job {job.id}")
    for key, value in job_dict(job).items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)
