"""Receive seed files: stream an upload to disk while hashing it, record it, hand it to a job.

The upload is written under ``<data_dir>/uploads/`` with a generated name (the client's filename
is kept for display only) while its sha256 and size are computed; more than
``settings.import_max_bytes`` stops the copy. The same content uploaded again to the same project
creates nothing new: the existing import is returned, marked a duplicate. Otherwise a
``SeedImport`` (queued) and a ``datasets.import_seeds`` job are recorded; the job checks every
record and imports all of them or none (see ``import_tasks``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.datasets import events, policies
from expertloop.datasets.import_parsers import (
    MAGIC_BYTES,
    PARQUET_MAGIC,
    compression_of,
    resolve_format,
    safe_filename,
)
from expertloop.datasets.models import ImportStatus, SeedImport
from expertloop.errors import NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.jobs import records
from expertloop.jobs.models import FINISHED, Job, JobStatus
from expertloop.jobs.queue import JobQueue
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project
from expertloop.settings import Settings

log = logging.getLogger("expertloop.datasets")

JOB_KIND = "datasets.import_seeds"
UPLOADS = "uploads"
MAX_STORED_ERRORS = 100
_RUNNING = (ImportStatus.queued, ImportStatus.validating)

__all__ = [
    "JOB_KIND",
    "ImportView",
    "StagedUpload",
    "UploadResult",
    "UploadTooLarge",
    "check_declared_size",
    "get_import",
    "importable_project",
    "list_imports",
    "record_upload",
    "resolve_format",
    "uploads_dir",
    "view",
    "views",
]


class UploadTooLarge(ValidationFailed):
    """The upload is bigger than ``import_max_bytes`` (HTTP 413)."""

    code = "payload_too_large"


def uploads_dir(settings: Settings) -> Path:
    """Return the directory where uploads wait for their import job."""
    return (settings.data_dir / UPLOADS).resolve()


def _too_large(limit: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"The upload is larger than {limit:,} bytes (EXPERTLOOP_IMPORT_MAX_BYTES); "
        "split the file or ask an operator to raise the limit.",
        details={"max_bytes": limit},
    )


def check_declared_size(content_length: str | None, limit: int) -> None:
    """Refuse an upload whose declared length is over the limit, before reading any of it."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError:
        raise ValidationFailed("The Content-Length header is not a number.") from None
    if declared > limit:
        raise _too_large(limit)


class StagedUpload:
    """An upload being copied under the uploads directory, hashed and counted as it arrives."""

    def __init__(self, directory: Path, *, limit: int, fmt: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self.fmt = fmt
        self.name = f"{secrets.token_hex(16)}.upload"
        self.path = directory / self.name
        self.size = 0
        self._hash = hashlib.sha256()
        self._head = b""
        self._checked = False
        self._handle: IO[bytes] | None = self.path.open("xb")

    @property
    def relative_path(self) -> str:
        """Return the path stored on the import, relative to the data directory."""
        return f"{UPLOADS}/{self.name}"

    @property
    def sha256(self) -> str:
        """Return the hex sha256 of what was written so far."""
        return self._hash.hexdigest()

    def write(self, chunk: bytes) -> None:
        """Append a chunk; raise ``UploadTooLarge`` (and stop) once past the limit."""
        if self._handle is None:
            raise ValueError("The upload is closed.")
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            raise _too_large(self.limit)
        if not self._checked:
            self._head += chunk[:MAGIC_BYTES]
            if len(self._head) >= MAGIC_BYTES:
                self._check_head()
        self._hash.update(chunk)
        self._handle.write(chunk)

    def _check_head(self) -> None:
        self._checked = True
        compressed = compression_of(self._head)
        if compressed:
            self.discard()
            raise ValidationFailed(
                f"The upload is {compressed}-compressed; compressed files are refused. "
                "Upload the uncompressed JSONL, CSV, Parquet or JSON file."
            )
        if self.fmt == "parquet" and not self._head.startswith(PARQUET_MAGIC):
            self.discard()
            raise ValidationFailed("The upload is not a Parquet file (it does not start PAR1).")

    def finish(self) -> None:
        """Close the file once the whole upload is written; refuse an empty one."""
        if self._handle is None:
            return
        if not self._checked:
            self._check_head()
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self.size == 0:
            self.discard()
            raise ValidationFailed("The upload is empty.")

    def discard(self) -> None:
        """Close and delete the file (refused, failed or a duplicate)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> StagedUpload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()


@dataclass(frozen=True)
class UploadResult:
    """The import an upload made, or the one it duplicates."""

    seed_import: SeedImport
    duplicate: bool


def importable_project(*, session: Session, actor: User, project_id: int) -> Project:
    """Return a project whose imports the actor may see and make (404 otherwise)."""
    project = projects_uc.get_project(session=session, project_id=project_id, actor=actor)
    if not policies.can_use_imports(actor, project):
        raise NotFound("Project not found.")
    return project


def _stuck(session: Session, existing: SeedImport) -> bool:
    """Tell whether an import ended without a verdict on its records (retrying may help)."""
    if existing.status == ImportStatus.failed:
        return existing.error_count == 0
    if existing.status == ImportStatus.imported:
        return False
    job = session.get(Job, existing.job_id) if existing.job_id else None
    return job is None or job.status in FINISHED


def _submit(
    *, session: Session, queue: JobQueue, actor: User, project: Project, row: SeedImport
) -> None:
    job = records.submit(
        session=session,
        queue=queue,
        kind=JOB_KIND,
        payload={"import_id": row.id},
        actor=actor,
        title=f"Import {row.filename or 'seeds'} into {project.name}",
        organisation_id=project.organisation_id,
        project_id=project.id,
    )
    row.job_id = job.id
    session.flush()


def record_upload(
    *,
    session: Session,
    queue: JobQueue,
    actor: User,
    project: Project,
    staged: StagedUpload,
    filename: str,
    fmt: str,
) -> UploadResult:
    """Record a finished upload as a queued import with its job, or return the one it repeats.

    A refusal (or any failure) removes the staged file: nothing of a refused upload stays.
    """
    try:
        return _record_upload(
            session=session,
            queue=queue,
            actor=actor,
            project=project,
            staged=staged,
            filename=filename,
            fmt=fmt,
        )
    except BaseException:
        staged.discard()
        raise


def _record_upload(
    *,
    session: Session,
    queue: JobQueue,
    actor: User,
    project: Project,
    staged: StagedUpload,
    filename: str,
    fmt: str,
) -> UploadResult:
    sha = staged.sha256
    existing = session.scalar(
        select(SeedImport).where(
            SeedImport.project_id == project.id, SeedImport.content_sha256 == sha
        )
    )
    if existing is not None and not _stuck(session, existing):
        staged.discard()
        return UploadResult(existing, duplicate=True)
    if existing is not None:
        # It never reached a verdict (cancelled, or its job gave up): the same import again.
        old = existing.upload_path
        existing.filename = safe_filename(filename)
        existing.format = fmt
        existing.upload_path = staged.relative_path
        existing.status = ImportStatus.queued
        existing.rows_total = existing.rows_imported = existing.error_count = 0
        existing.errors = []
        existing.finished_at = None
        existing.created_by_id = actor.id
        _submit(session=session, queue=queue, actor=actor, project=project, row=existing)
        _remove_old(staged.path.parent.parent, old, keep=staged.relative_path)
        return UploadResult(existing, duplicate=False)
    row = SeedImport(
        project_id=project.id,
        organisation_id=project.organisation_id,
        filename=safe_filename(filename),
        format=fmt,
        content_sha256=sha,
        size_bytes=staged.size,
        upload_path=staged.relative_path,
        status=ImportStatus.queued,
        created_by_id=actor.id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # The same content arrived twice at once: the other request's import stands.
        staged.discard()
        twin = session.scalar(
            select(SeedImport).where(
                SeedImport.project_id == project.id, SeedImport.content_sha256 == sha
            )
        )
        if twin is None:
            raise
        return UploadResult(twin, duplicate=True)
    _submit(session=session, queue=queue, actor=actor, project=project, row=row)
    emit(
        events.SeedImportReceived(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="seed_import",
            subject_id=str(row.id),
            project_id=project.id,
            import_id=row.id,
            format=fmt,
            size_bytes=staged.size,
        ),
        session=session,
    )
    return UploadResult(row, duplicate=False)


def _remove_old(data_dir: Path, relative: str, *, keep: str) -> None:
    if not relative or relative == keep:
        return
    path = (data_dir / relative).resolve()
    if path.parent == (data_dir / UPLOADS).resolve():
        path.unlink(missing_ok=True)


def get_import(*, session: Session, actor: User, import_id: int) -> SeedImport:
    """Return an import the actor may see, or raise ``NotFound``."""
    row = session.get(SeedImport, import_id)
    if row is None or not policies.can_see_import(actor, row.organisation_id):
        raise NotFound("Import not found.")
    return row


def list_imports(
    *, session: Session, project: Project, limit: int = 50, offset: int = 0
) -> tuple[list[SeedImport], int]:
    """Return a page of a project's imports, newest first, and how many there are."""
    query = select(SeedImport).where(SeedImport.project_id == project.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(SeedImport.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total)


@dataclass(frozen=True)
class ImportView:
    """What a client sees of one import (the API's ``ImportOut`` and the import page)."""

    id: int
    project_id: int
    filename: str
    format: str
    status: ImportStatus
    size_bytes: int
    rows_total: int
    rows_imported: int
    error_count: int
    errors: list[dict[str, Any]]
    job_id: int | None
    duplicate: bool
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def running(self) -> bool:
        """Tell whether the import still waits for its verdict."""
        return self.status in (ImportStatus.queued, ImportStatus.validating)


def views(*, session: Session, rows: list[SeedImport], duplicate: bool = False) -> list[ImportView]:
    """Return the read models of imports; one whose job ended without a verdict shows failed."""
    waiting = [r.job_id for r in rows if r.job_id and r.status in _RUNNING]
    jobs: dict[int, tuple[JobStatus, str]] = {}
    if waiting:
        query = select(Job.id, Job.status, Job.error).where(Job.id.in_(waiting))
        jobs = {job_id: (status, error) for job_id, status, error in session.execute(query)}
    out: list[ImportView] = []
    for r in rows:
        status, errors = r.status, list(r.errors or [])
        job = jobs.get(r.job_id or 0)
        if r.status in _RUNNING and job is not None and job[0] in FINISHED:
            status = ImportStatus.failed
            message = job[1] or f"The import's job ended ({job[0].value}) without a verdict."
            errors = [{"line": 0, "field": "", "message": message}]
        out.append(
            ImportView(
                id=r.id,
                project_id=r.project_id,
                filename=r.filename,
                format=r.format,
                status=status,
                size_bytes=r.size_bytes,
                rows_total=r.rows_total,
                rows_imported=r.rows_imported,
                error_count=r.error_count,
                errors=errors[:MAX_STORED_ERRORS],
                job_id=r.job_id,
                duplicate=duplicate,
                created_at=r.created_at,
                finished_at=r.finished_at,
            )
        )
    return out


def view(*, session: Session, row: SeedImport, duplicate: bool = False) -> ImportView:
    """Return the read model of one import."""
    return views(session=session, rows=[row], duplicate=duplicate)[0]
