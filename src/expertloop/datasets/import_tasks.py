"""The ``datasets.import_seeds`` job: check every record of an upload, then import all or none.

First every record is read and checked, the errors (line, field, message) collected and progress
reported; the checked seeds are spooled beside the upload meanwhile, so the file is parsed once.
Only when no record failed are the spooled seeds inserted, in one transaction (chunks of
``CHUNK`` rows) that also marks the import ``imported``: a crash mid-insert leaves nothing, and a
redo of an import already ``imported`` does nothing. No progress is written during the insert:
on SQLite the insert holds the database's only write lock.
"""

from __future__ import annotations

import json
import logging
import marshal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from expertloop.datasets import events
from expertloop.datasets.import_checks import to_seed
from expertloop.datasets.import_parsers import RowError, read_records
from expertloop.datasets.imports import JOB_KIND, MAX_STORED_ERRORS, UPLOADS
from expertloop.datasets.models import ImportStatus, Seed, SeedImport
from expertloop.errors import ExpertLoopError, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.jobs.runner import Handler, JobCancelledError, JobContext
from expertloop.settings import Settings
from expertloop.types import utcnow

log = logging.getLogger("expertloop.datasets")

CHUNK = 5_000
BATCH_CHARS = 32_000_000  # a chunk of long statements is spooled early: memory stays bounded
PROGRESS_EVERY = 2_000
SPOOL_SUFFIX = ".rows"
_COLUMNS = (
    "project_id",
    "import_id",
    "line",
    "external_id",
    "title",
    "statement",
    "context",
    "domain",
    "prompts",
    "extra",
)
# Placeholders by DB-API paramstyle (SQLite: qmark, psycopg: pyformat); others go through the ORM.
_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits from a Label Studio export
        return _json_text(value)


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


def _spool(out: BinaryIO, batch: list[tuple[Any, ...]]) -> None:
    blob = marshal.dumps(batch)
    out.write(len(blob).to_bytes(8, "little"))
    out.write(blob)


def _spooled(source: BinaryIO) -> Iterator[list[tuple[Any, ...]]]:
    while head := source.read(8):
        yield marshal.loads(source.read(int.from_bytes(head, "little")))  # noqa: S302 (ours)


def _check(
    ctx: JobContext, target: tuple[int, int], path: Path, fmt: str, max_bytes: int, spool: Path
) -> tuple[int, list[RowError], int]:
    """Read and check every record; return (records, first errors, number of errors).

    While no record has failed, the checked seeds are spooled (marshal, in chunks, as the rows
    to insert for ``target`` = (project id, import id)), so that the file is parsed once.
    """
    project_id, import_id = target
    csv_cells = fmt == "csv"
    rows = reported = error_count = held = 0
    errors: list[RowError] = []
    batch: list[tuple[Any, ...]] = []
    dumps = orjson.dumps
    with spool.open("wb") as out:
        for item in read_records(path, fmt, max_bytes=max_bytes):
            if isinstance(item, RowError):
                found = [item]
            else:
                rows += 1
                line, fields = item
                seed, found = to_seed(line, fields, csv_cells=csv_cells)
                if seed is not None and not error_count:
                    extra = seed["extra"]
                    held += len(seed["statement"]) + len(seed["context"])
                    batch.append(
                        (
                            project_id,
                            import_id,
                            line,
                            seed["external_id"],
                            seed["title"],
                            seed["statement"],
                            seed["context"],
                            seed["domain"],
                            dumps(seed["prompts"]).decode(),
                            _dumps(extra) if extra else "{}",
                        )
                    )
                    if len(batch) >= CHUNK or held > BATCH_CHARS:
                        _spool(out, batch)
                        batch, held = [], 0
            if found:
                error_count += len(found)
                room = MAX_STORED_ERRORS - len(errors)
                if room > 0:
                    errors.extend(found[:room])
            if rows - reported >= PROGRESS_EVERY:
                reported = rows
                ctx.progress(rows, None, f"checked {rows:,} records, {error_count:,} errors")
        if batch and not error_count:
            _spool(out, batch)
    return rows, errors, error_count


def _insert_spooled(session: Session, spool: Path) -> int:
    """Insert the spooled seeds in chunks, on the caller's transaction; return how many."""
    connection = session.connection()
    marker = _MARKERS.get(connection.dialect.paramstyle)
    columns = ", ".join(_COLUMNS)
    marks = ", ".join([marker or "?"] * len(_COLUMNS))
    sql = f"INSERT INTO {Seed.__tablename__} ({columns}) VALUES ({marks})"  # noqa: S608
    count = 0
    with spool.open("rb") as source:
        for batch in _spooled(source):
            count += len(batch)
            if marker is None:
                session.execute(insert(Seed), [_as_dict(values) for values in batch])
            else:
                # Straight to the driver's executemany: the values are checked and the JSON is
                # already text; the ORM's per-row work would cost more than the insert itself.
                connection.exec_driver_sql(sql, batch)
    return count


def _as_dict(values: tuple[Any, ...]) -> dict[str, Any]:
    seed = dict(zip(_COLUMNS, values, strict=True))
    seed["prompts"] = json.loads(seed["prompts"])
    seed["extra"] = json.loads(seed["extra"])
    return seed


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
        fmt, upload_path, target = row.format, row.upload_path, (row.project_id, row.id)
    try:
        path = _upload_file(settings, upload_path)
    except ValidationFailed as exc:
        _no_verdict(ctx, import_id, exc.message)
        raise
    spool = path.with_suffix(SPOOL_SUFFIX)
    try:
        return _check_and_insert(ctx, target, path, fmt, spool, settings.import_max_bytes)
    finally:
        _remove(spool)


def _no_verdict(ctx: JobContext, import_id: int, message: str) -> None:
    # error_count stays 0 (no record was judged): uploading the same file again retries.
    _fail(
        ctx,
        import_id,
        errors=[{"line": 0, "field": "", "message": message}],
        error_count=0,
        rows_total=0,
        message=message,
    )


def _check_and_insert(
    ctx: JobContext, target: tuple[int, int], path: Path, fmt: str, spool: Path, max_bytes: int
) -> dict[str, Any]:
    import_id = target[1]
    try:
        rows, errors, error_count = _check(ctx, target, path, fmt, max_bytes, spool)
    except (JobCancelledError, ExpertLoopError) as exc:
        _no_verdict(
            ctx, import_id, "Cancelled." if isinstance(exc, JobCancelledError) else exc.message
        )
        raise
    if rows == 0 and not errors:
        errors, error_count = [RowError(0, "", "The file holds no records.")], 1
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
        count = _insert_spooled(session, spool)
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
                project_id=row.project_id,
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
