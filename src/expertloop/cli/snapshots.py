"""``expertloop snapshots create|list|export``: dataset snapshots from the command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from expertloop.cli.common import console, db_session, fail, settings
from expertloop.cli.jobs import job_queue, print_outcome, wait_for_job
from expertloop.cli.projects import _operator
from expertloop.datasets import snapshots
from expertloop.datasets.schemas import SnapshotFiltersIn
from expertloop.datasets.snapshots import SnapshotView
from expertloop.db import transaction
from expertloop.errors import ExpertLoopError

app = typer.Typer(help="Dataset snapshots: create, list, export.", no_args_is_help=True)
DATE = ["%Y-%m-%d"]


def _json(view: SnapshotView) -> str:
    return snapshots.snapshot_out(view).model_dump_json(indent=2)


@app.command("create")
def create_cmd(
    project_id: int = typer.Argument(..., help="Project id."),
    domain: str = typer.Option("", help="Only problem sets of this domain."),
    accepted_from: dt.datetime | None = typer.Option(
        None, "--from", formats=DATE, help="Only problem sets accepted on or after this day."
    ),
    accepted_to: dt.datetime | None = typer.Option(
        None, "--to", formats=DATE, help="Only problem sets accepted on or before this day."
    ),
    endpoint: list[int] = typer.Option(
        [], "--endpoint", help="Only answers of this target model (endpoint id); repeatable."
    ),
    test_fraction: float = typer.Option(0.1, min=0.0, max=1.0, help="Share in the test split."),
    no_wait: bool = typer.Option(False, "--no-wait", help="Submit the build and return."),
    as_json: bool = typer.Option(False, "--json", help="Print the snapshot as JSON."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Create the project's next snapshot and (unless --no-wait) wait for its build."""
    cfg = settings()
    with job_queue(cfg) as queue:
        try:
            filters = snapshots.filters_from(
                SnapshotFiltersIn(
                    domain=domain or None,
                    accepted_from=accepted_from.date() if accepted_from else None,
                    accepted_to=accepted_to.date() if accepted_to else None,
                    endpoint_ids=endpoint or None,
                )
            )
        except ValueError as exc:
            raise fail(str(exc)) from None
        try:
            # The job is handed to the queue when this commits (in immediate mode it runs then).
            with transaction(queue.session_factory) as session:
                actor = _operator(session, operator)
                snapshot = snapshots.create_snapshot(
                    session=session,
                    queue=queue,
                    actor=actor,
                    project_id=project_id,
                    filters=filters,
                    test_fraction_bp=round(test_fraction * 10_000),
                )
                snapshot_id, number, job_id = snapshot.id, snapshot.number, snapshot.job_id
                actor_email = actor.email
        except ExpertLoopError as exc:
            raise fail(exc.message) from None
        if not as_json:
            console.print(
                f"Snapshot {number} of project {project_id} (id {snapshot_id}), job {job_id}"
            )
        job = None
        if not no_wait and job_id is not None:
            job = wait_for_job(queue, job_id, quiet=as_json)
        with transaction(queue.session_factory) as session:
            actor = _operator(session, actor_email)
            view = snapshots.get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
    if as_json:
        typer.echo(_json(view))
        if job is not None and view.status.value != "ready":
            raise typer.Exit(1)
        return
    if job is not None:
        print_outcome(job)
        if view.ready:
            console.print(
                f"[green]Snapshot {view.number} ready:[/] {len(view.files)} files, "
                f"{view.total_bytes:,} bytes. Export it with "
                f"`expertloop snapshots export {view.id} --out DIR`."
            )
    else:
        console.print(f"Building; follow it with `expertloop jobs show {job_id} --wait`.")


@app.command("list")
def list_cmd(
    project_id: int = typer.Argument(..., help="Project id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    limit: int = typer.Option(50, min=1, max=10_000),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """List the project's snapshots, newest first."""
    with db_session() as session:
        actor = _operator(session, operator)
        rows, total = snapshots.list_snapshots(
            session=session, actor=actor, project_id=project_id, limit=limit
        )
        if as_json:
            items = [snapshots.snapshot_out(v).model_dump(mode="json") for v in rows]
            typer.echo(json.dumps(items, indent=2))
            return
        table = Table(title=f"Snapshots of project {project_id} ({len(rows)} of {total})")
        for col in ("id", "number", "status", "created", "problem sets", "files", "bytes"):
            table.add_column(col)
        for v in rows:
            table.add_row(
                str(v.id),
                str(v.number),
                v.status.value if not v.error else f"{v.status.value}: {v.error[:60]}",
                v.created_at.strftime("%Y-%m-%d %H:%M"),
                str(v.counts.get("problem_sets", "")),
                str(len(v.files)),
                f"{v.total_bytes:,}",
            )
        console.print(table)


@app.command("export")
def export_cmd(
    snapshot_id: int = typer.Argument(..., help="Snapshot id (see `snapshots list`)."),
    out: Path = typer.Option(..., "--out", help="Folder to write (new or empty)."),
    export_format: str = typer.Option(
        "", "--format", help="Only this format's files (plus the manifest and the card)."
    ),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Copy a ready snapshot's folder (manifest, card, data files), checking every hash."""
    cfg = settings()
    with db_session(cfg) as session:
        actor = _operator(session, operator)
        download = snapshots.open_download(
            session=session,
            actor=actor,
            snapshot_id=snapshot_id,
            snapshots_dir=cfg.resolved_snapshots_dir(),
        )
        view = snapshots.get_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
    files = list(view.files)
    if export_format:
        if export_format not in view.formats:
            raise fail(
                f"Snapshot {view.number} has no format {export_format!r}; it has "
                + ", ".join(view.formats)
                + "."
            )
        files = [f for f in files if f.format == export_format]
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise fail(f"{out} exists and is not an empty folder.")
    expected = {f.path: f.sha256 for f in files}
    names = [snapshots.MANIFEST, snapshots.CARD, *expected]
    sources = [download.file(name) for name in names]
    total = sum(p.stat().st_size for p in sources)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"snapshot {view.number}", total=total)
        for name, source in zip(names, sources, strict=True):
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with source.open("rb") as src, target.open("wb") as dst:
                while block := src.read(1024 * 1024):
                    digest.update(block)
                    dst.write(block)
                    progress.advance(task, len(block))
            if name in expected and digest.hexdigest() != expected[name]:
                raise fail(f"{name} does not match its manifest hash; the snapshot is damaged.")
    console.print(
        f"[green]Wrote snapshot {view.number}[/] ({len(names)} files, {total:,} bytes) to {out}"
    )
