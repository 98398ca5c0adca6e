"""The ``datasets.import_seeds`` job: check every record of an upload, then import all or none.

Two passes over the file. The first reads and checks every record and collects the errors
(line, field, message), reporting progress. Only when no record failed does the second read the
file again and insert every seed in one transaction (bulk inserts of ``CHUNK`` rows), which also
marks the import ``imported``: a crash mid-insert leaves nothing, and a redo of an import already
``imported`` does nothing. No progress is written during the insert: on SQLite the insert holds
the database's only write lock.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from expertloop.datasets import events
from expertloop.datasets.import_parsers import RowError, read_records, to_seed
from expertloop.datasets.imports import JOB_KIND, MAX_STORED_ERRORS, UPLOADS
from expertloop.datasets.models import ImportStatus, Seed, SeedImport
from expertloop.errors import ExpertLoopError, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.jobs.runner import Handler, JobCancelledError, JobContext
from expertloop.settings import Settings
from expertloop.types import utcnow

log = logging.getLogger("expertloop.datasets")

CHUNK = 5_000
PROGRESS_EVERY = 2_000


def _locked(session: Session, import_id: int) -> SeedImport:
    row = session.scalar(
        select(SeedImport)
        .where(SeedImport.id == import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound(f"Import {import_id} no longer exists.")
    return row


def _upload_file(settings: Settings, upload_path: str) -> Path:
    uploads = (settings.data_dir / UPLOADS).resolve()
    path = (settings.data_dir / upload_path).resolve()
    # The stored path is ours, but never follow one out of the uploads directory.
    if not upload_path or path.parent != uploads:
        raise ValidationFailed("The import's upload is not where uploads are kept.")
    if not path.is_file():
        raise ValidationFailed(
            "The uploaded file is gone (was the import already run elsewhere?); upload it again."
        )
    return path


def _fail(
    ctx: JobContext,
    import_id: int,
    *,
    errors: list[dict[str, Any]],
    error_count: int,
    rows_total: int,
    message: str,
) -> None:
    with ctx.transaction() as session:
        row = _locked(session, import_id)
        if row.status == ImportStatus.imported:
            return
        row.status = ImportStatus.failed
        row.errors = errors[:MAX_STORED_ERRORS]
        row.error_count = error_count
        row.rows_total = rows_total
        row.rows_imported = 0
        row.finished_at = utcnow()
        emit(
            events.SeedImportFailed(
                actor_user_id=row.created_by_id,
                organisation_id=row.organisation_id,
                subject_type="seed_import",
                subject_id=str(row.id),
                project_id=row.project_id,
                import_id=row.id,
                error_count=error_count,
                error=message[:500],
            ),
            session=session,
        )


def _validate(
    ctx: JobContext, path: Path, fmt: str, max_bytes: int
) -> tuple[int, list[RowError], int]:
    """Read every record; return (records, first errors, number of errors)."""
    csv_cells = fmt == "csv"
    rows = 0
    errors: list[RowError] = []
    error_count = 0
    for item in read_records(path, fmt, max_bytes=max_bytes):
        if isinstance(item, RowError):
            found = [item]
        else:
            rows += 1
            _seed, found = to_seed(item[0], item[1], csv_cells=csv_cells)
        if found:
            error_count += len(found)
            room = MAX_STORED_ERRORS - len(errors)
            if room > 0:
                errors.extend(found[:room])
        if rows % PROGRESS_EVERY == 0:
            ctx.progress(rows, None, f"checked {rows:,} records, {error_count:,} errors")
    return rows, errors, error_count


def _insert_all(session: Session, row: SeedImport, path: Path, max_bytes: int) -> int:
    csv_cells = row.format == "csv"
    common = {"project_id": row.project_id, "import_id": row.id}
    batch: list[dict[str, Any]] = []
    count = 0
    for item in read_records(path, row.format, max_bytes=max_bytes):
        if isinstance(item, RowError):
            raise ValidationFailed(f"Line {item.line} changed between the two readings.")
        seed, found = to_seed(item[0], item[1], csv_cells=csv_cells)
        if seed is None:
            raise ValidationFailed(f"Line {found[0].line} changed between the two readings.")
        seed.update(common)
        batch.append(seed)
        if len(batch) >= CHUNK:
            session.execute(insert(Seed), batch)
            count += len(batch)
            batch = []
    if batch:
        session.execute(insert(Seed), batch)
        count += len(batch)
    return count


def import_seeds(ctx: JobContext) -> dict[str, Any]:
    """Check every record of an uploaded seed file, then import all of them or none."""
    settings: Settings = ctx.services["settings"]
    import_id = int(ctx.payload["import_id"])
    with ctx.transaction() as session:
        row = _locked(session, import_id)
        if row.status in (ImportStatus.imported, ImportStatus.failed):
            # A redo of a finished import (at-least-once delivery): nothing more to do.
            return _result(row)
        row.status = ImportStatus.validating
        fmt, project_id, upload_path = row.format, row.project_id, row.upload_path
    try:
        path = _upload_file(settings, upload_path)
        rows, errors, error_count = _validate(ctx, path, fmt, settings.import_max_bytes)
    except (JobCancelledError, ExpertLoopError) as exc:
        # No verdict on the records (error_count stays 0): uploading the file again retries.
        message = "Cancelled." if isinstance(exc, JobCancelledError) else exc.message
        _fail(
            ctx,
            import_id,
            errors=[{"line": 0, "field": "", "message": message}],
            error_count=0,
            rows_total=0,
            message=message,
        )
        raise
    if rows == 0 and not errors:
        errors = [RowError(0, "", "The file holds no records.")]
        error_count = 1
    if errors:
        first = errors[0]
        where = f"line {first.line}" if first.line else "the file"
        field = f", field {first.field}" if first.field else ""
        message = (
            f"{error_count:,} error{'s' if error_count != 1 else ''} in {rows:,} records; "
            f"nothing was imported. First: {where}{field}: {first.message}"
        )
        _fail(
            ctx,
            import_id,
            errors=[e.as_dict() for e in errors],
            error_count=error_count,
            rows_total=rows,
            message=message,
        )
        _remove(path)
        raise ValidationFailed(message)
    ctx.progress(rows, rows, f"all {rows:,} records are valid; importing", force=True)
    with ctx.transaction() as session:
        row = _locked(session, import_id)
        if row.status == ImportStatus.imported:
            return _result(row)
        count = _insert_all(session, row, path, settings.import_max_bytes)
        row.status = ImportStatus.imported
        row.rows_total = rows
        row.rows_imported = count
        row.errors = []
        row.error_count = 0
        row.finished_at = utcnow()
        emit(
            events.SeedsImported(
                actor_user_id=row.created_by_id,
                organisation_id=row.organisation_id,
                subject_type="seed_import",
                subject_id=str(row.id),
                project_id=project_id,
                import_id=row.id,
                rows=count,
            ),
            session=session,
        )
        result = _result(row)
    _remove(path)
    return result


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:  # a leftover upload is harmless; the import's verdict stands
        log.warning("could not remove upload %s", path, exc_info=True)


def _result(row: SeedImport) -> dict[str, Any]:
    return {
        "import_id": row.id,
        "status": row.status.value,
        "rows_imported": row.rows_imported,
        "error_count": row.error_count,
        "imports_url": f"/projects/{row.project_id}/imports",
    }


IMPORT_HANDLERS: dict[str, Handler] = {JOB_KIND: import_seeds}
