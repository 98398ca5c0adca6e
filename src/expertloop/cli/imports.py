"""``expertloop import PROJECT_ID FILE``: import seed problems or prompts into a project.

The file goes through the same service as an upload (copied under the data directory while it is
hashed, refused past the size limit), then its job checks every record and imports all of them or
none; the command follows the job and prints the rows imported or the first errors by line.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from expertloop.cli.common import console, fail, settings
from expertloop.cli.jobs import job_queue, wait_for_job
from expertloop.cli.projects import _operator
from expertloop.datasets import imports
from expertloop.datasets.models import ImportStatus
from expertloop.datasets.schemas import ImportOut
from expertloop.db import transaction
from expertloop.errors import ExpertLoopError

COPY_CHUNK = 1024 * 1024
SHOWN_ERRORS = 20


def import_cmd(
    project_id: int = typer.Argument(..., help="The project the seeds are for."),
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="JSONL, CSV, Parquet or JSON file."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="jsonl, csv, parquet or label_studio (default: from the name)."
    ),
    no_wait: bool = typer.Option(False, "--no-wait", help="Queue the import and return."),
    as_json: bool = typer.Option(False, "--json", help="Print the import as JSON."),
    operator: str = typer.Option("", help="Operator to act as (default: the first one)."),
) -> None:
    """Import seed problems or prompts from a file into a project (all records or none)."""
    cfg = settings()
    try:
        chosen = imports.resolve_format(file.name, fmt)
        limit = cfg.import_max_bytes
        imports.check_declared_size(str(file.stat().st_size), limit)
        with job_queue(cfg) as queue:
            with transaction(queue.session_factory) as session:
                actor = _operator(session, operator)
                imports.importable_project(session=session, actor=actor, project_id=project_id)
            staged = _copy(
                file,
                imports.StagedUpload(imports.uploads_dir(cfg), limit=limit, fmt=chosen),
                quiet=as_json,
            )
            with transaction(queue.session_factory) as session:
                actor = _operator(session, operator)
                project = imports.importable_project(
                    session=session, actor=actor, project_id=project_id
                )
                try:
                    result = imports.record_upload(
                        session=session,
                        queue=queue,
                        actor=actor,
                        project=project,
                        staged=staged,
                        filename=file.name,
                        fmt=chosen,
                    )
                except BaseException:
                    staged.discard()
                    raise
                import_id, job_id = result.seed_import.id, result.seed_import.job_id
                duplicate = result.duplicate
            if not duplicate and job_id is not None and not no_wait:
                wait_for_job(queue, job_id, quiet=as_json)
            with transaction(queue.session_factory) as session:
                actor = _operator(session, operator)
                row = imports.get_import(session=session, actor=actor, import_id=import_id)
                out = ImportOut.model_validate(
                    imports.view(session=session, row=row, duplicate=duplicate)
                )
    except ExpertLoopError as exc:
        raise fail(exc.message) from None
    _report(out, as_json=as_json)


def _copy(file: Path, staged: imports.StagedUpload, *, quiet: bool) -> imports.StagedUpload:
    """Copy the file into the upload area with a progress bar."""
    with (
        staged,
        Progress(
            TextColumn("[bold]copying {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            transient=True,
            disable=quiet,
        ) as progress,
        file.open("rb") as source,
    ):
        task = progress.add_task(file.name, total=file.stat().st_size)
        while chunk := source.read(COPY_CHUNK):
            staged.write(chunk)
            progress.advance(task, len(chunk))
        staged.finish()
    return staged


def _report(out: ImportOut, *, as_json: bool) -> None:
    """Print how the import stands; exit 1 when it failed."""
    if as_json:
        typer.echo(json.dumps(out.model_dump(mode="json"), indent=2))
        if out.status == ImportStatus.failed:
            raise typer.Exit(1)
        return
    if out.duplicate:
        console.print(f"This file was already uploaded to the project: import {out.id}.")
    if out.status == ImportStatus.imported:
        console.print(
            f"[green]Import {out.id}: {out.rows_imported:,} seeds imported[/] from {out.filename}."
        )
        return
    if out.status != ImportStatus.failed:
        console.print(f"Import {out.id} is {out.status.value} (job {out.job_id}).")
        return
    table = Table(title=f"Import {out.id} failed: nothing was imported")
    for column in ("line", "field", "problem"):
        table.add_column(column)
    for error in out.errors[:SHOWN_ERRORS]:
        table.add_row(str(error.line or "—"), error.field or "—", error.message)
    console.print(table)
    if out.error_count > SHOWN_ERRORS:
        console.print(f"… and {out.error_count - SHOWN_ERRORS:,} more errors.")
    if out.error_count:
        raise fail(f"{out.error_count:,} errors in {out.rows_total:,} records; fix them and retry.")
    raise fail("The import stopped before its records were judged; run the command again.")
