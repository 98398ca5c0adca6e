"""Create, list and read numbered, immutable dataset snapshots; find what a download serves.

A snapshot is numbered per project (1, 2, ...) when it is asked for, and built once by a job
(``datasets.build_snapshot``, see ``tasks.py``). Once ready it never changes: a new snapshot is
a new number. Everything here only ``flush()``es; the caller commits.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.datasets import policies
from expertloop.datasets.events import SnapshotCreated
from expertloop.datasets.folder import SnapshotFilters
from expertloop.datasets.models import Snapshot, SnapshotStatus
from expertloop.datasets.schemas import SnapshotFileOut, SnapshotFiltersIn, SnapshotOut
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.jobs import records as jobs
from expertloop.jobs.models import Job
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project

if TYPE_CHECKING:
    from expertloop.jobs.queue import JobQueue

BUILD_KIND = "datasets.build_snapshot"
# The files every snapshot folder holds besides its data files.
MANIFEST = "manifest.json"
CARD = "README.md"
_NUMBER_RETRIES = 5


@dataclass(frozen=True)
class SnapshotFile:
    """One data file of a ready snapshot, as its manifest lists it."""

    path: str
    bytes: int
    sha256: str
    rows: int | None
    format: str
    split: str


@dataclass(frozen=True)
class SnapshotView:
    """A snapshot as pages and the API show it."""

    id: int
    project_id: int
    project_name: str
    organisation_id: int
    number: int
    status: SnapshotStatus
    filters: dict[str, Any]
    test_fraction_bp: int
    counts: dict[str, Any]
    total_bytes: int
    job_id: int | None
    error: str
    created_by_id: int | None
    created_at: dt.datetime
    ready_at: dt.datetime | None
    manifest: dict[str, Any] | None
    files: tuple[SnapshotFile, ...] = field(default=())

    @property
    def test_fraction(self) -> float:
        return self.test_fraction_bp / 10_000

    @property
    def ready(self) -> bool:
        return self.status == SnapshotStatus.ready

    @property
    def formats(self) -> list[str]:
        """Return the export formats the snapshot holds, in file order."""
        return list(dict.fromkeys(f.format for f in self.files))

    @property
    def archive_url(self) -> str | None:
        return f"/api/v1/snapshots/{self.id}/archive" if self.ready else None

    @property
    def page_url(self) -> str:
        return f"/projects/{self.project_id}/datasets/{self.number}"

    def file_url(self, path: str) -> str:
        """Return the download address of one of the snapshot's files."""
        return f"/api/v1/snapshots/{self.id}/files/{path}"


@dataclass(frozen=True)
class Download:
    """A ready snapshot's folder and the files it may serve (checked before anything is read)."""

    snapshot_id: int
    folder: Path
    names: tuple[str, ...]  # manifest.json, README.md, then the data files, in manifest order
    filename_stem: str  # "<project-slug>-snapshot-<n>"
    created_at: dt.datetime

    def file(self, path: str) -> Path:
        """Return the on-disk path of ``path``, which must be one of the snapshot's files."""
        if path not in self.names:
            raise NotFound("No such file in this snapshot.")
        return safe_path(self.folder, path)


def safe_path(folder: Path, relative: str) -> Path:
    """Return ``folder/relative`` if it is a regular file inside ``folder`` reached without links.

    The names come from our own manifest, but a folder on shared storage could be tampered with:
    no absolute paths, no ``..``, no symlinks anywhere on the way.
    """
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or any(p in ("..", ".", "") for p in parts):
        raise NotFound("No such file in this snapshot.")
    current = folder
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise NotFound("No such file in this snapshot.")
    root = folder.resolve()
    resolved = current.resolve()
    if not resolved.is_relative_to(root) or not resolved.is_file():
        raise NotFound("No such file in this snapshot.")
    return resolved


def slugify(text: str, fallback: str) -> str:
    """Return a lowercase ASCII slug for file names (``fallback`` when nothing is left)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    return slug or fallback


def _project(session: Session, actor: User, project_id: int) -> Project:
    project = projects_uc.get_project(session=session, project_id=project_id, actor=actor)
    if not policies.can_use_snapshots(actor, project):
        # Experts and reviewers staffed on the project may see it, but not its datasets.
        raise NotFound("Project not found.")
    return project


def _job_key(project_id: int, idempotency_key: str) -> str:
    return f"snapshot:{project_id}:{idempotency_key}"


def create_snapshot(
    *,
    session: Session,
    queue: JobQueue,
    actor: User,
    project_id: int,
    filters: SnapshotFilters,
    test_fraction_bp: int = 1000,
    idempotency_key: str | None = None,
) -> Snapshot:
    """Number a new snapshot of the project's accepted problem sets and submit its build job.

    With an ``idempotency_key`` already used on this project, the snapshot it made is returned.
    """
    project = _project(session, actor, project_id)
    if not 0 <= test_fraction_bp <= 10_000:
        raise ValidationFailed("The test fraction must be between 0 and 1.")
    if (
        filters.accepted_from is not None
        and filters.accepted_to is not None
        and filters.accepted_from > filters.accepted_to
    ):
        raise ValidationFailed("'Accepted from' is after 'accepted to'.")
    key = None
    if idempotency_key:
        if len(idempotency_key) > 100:
            raise ValidationFailed("The idempotency key is longer than 100 characters.")
        key = _job_key(project.id, idempotency_key)
        existing = session.scalar(
            select(Snapshot)
            .join(Job, Job.id == Snapshot.job_id)
            .where(Job.idempotency_key == key, Snapshot.project_id == project.id)
        )
        if existing is not None:
            return existing
    snapshot = _insert_numbered(session, project, actor, filters, test_fraction_bp)
    job = jobs.submit(
        session=session,
        queue=queue,
        kind=BUILD_KIND,
        payload={"snapshot_id": snapshot.id},
        actor=actor,
        title=f"Snapshot {snapshot.number} of {project.name}",
        organisation_id=project.organisation_id,
        project_id=project.id,
        idempotency_key=key,
    )
    snapshot.job_id = job.id
    session.flush()
    emit(
        SnapshotCreated(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="snapshot",
            subject_id=str(snapshot.id),
            project_id=project.id,
            number=snapshot.number,
        ),
        session=session,
    )
    return snapshot


def _insert_numbered(
    session: Session, project: Project, actor: User, filters: SnapshotFilters, bp: int
) -> Snapshot:
    """Insert the project's next snapshot number; a concurrent create makes us take the next."""
    for _ in range(_NUMBER_RETRIES):
        number = 1 + (
            session.scalar(
                select(func.max(Snapshot.number)).where(Snapshot.project_id == project.id)
            )
            or 0
        )
        snapshot = Snapshot(
            project_id=project.id,
            organisation_id=project.organisation_id,
            number=number,
            status=SnapshotStatus.building,
            filters=filters.to_json(),
            test_fraction_bp=bp,
            path=f"p{project.id}/s{number}",
            counts={},
            created_by_id=actor.id,
        )
        try:
            # The unique (project, number) constraint decides between two concurrent creates.
            with session.begin_nested():
                session.add(snapshot)
                session.flush()
        except IntegrityError:
            continue
        return snapshot
    raise Conflict("Another snapshot of this project is being numbered; try again.")


def _view(snapshot: Snapshot, project_name: str) -> SnapshotView:
    counts = dict(snapshot.counts or {})
    files = tuple(
        SnapshotFile(
            path=str(f["path"]),
            bytes=int(f["bytes"]),
            sha256=str(f["sha256"]),
            rows=int(f["rows"]) if f.get("rows") is not None else None,
            format=str(f.get("format", "")),
            split=str(f.get("split", "")),
        )
        for f in counts.pop("files", None) or []
    )
    return SnapshotView(
        id=snapshot.id,
        project_id=snapshot.project_id,
        project_name=project_name,
        organisation_id=snapshot.organisation_id,
        number=snapshot.number,
        status=snapshot.status,
        filters=dict(snapshot.filters or {}),
        test_fraction_bp=snapshot.test_fraction_bp,
        counts=counts,
        total_bytes=snapshot.total_bytes,
        job_id=snapshot.job_id,
        error=snapshot.error,
        created_by_id=snapshot.created_by_id,
        created_at=snapshot.created_at,
        ready_at=snapshot.ready_at,
        manifest=snapshot.manifest if snapshot.status == SnapshotStatus.ready else None,
        files=files if snapshot.status == SnapshotStatus.ready else (),
    )


def view_of(*, session: Session, actor: User, snapshot: Snapshot) -> SnapshotView:
    """Return the read model of a snapshot row the caller already loaded."""
    project = _project(session, actor, snapshot.project_id)
    return _view(snapshot, project.name)


def list_snapshots(
    *, session: Session, actor: User, project_id: int, limit: int = 50, offset: int = 0
) -> tuple[list[SnapshotView], int]:
    """Return a page of the project's snapshots, newest first, and how many there are."""
    project = _project(session, actor, project_id)
    query = select(Snapshot).where(Snapshot.project_id == project.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Snapshot.number.desc()).limit(limit).offset(offset))
    return [_view(s, project.name) for s in rows], int(total)


def load_snapshot(*, session: Session, actor: User, snapshot_id: int) -> Snapshot:
    """Return the snapshot row if the caller may see it (404 otherwise)."""
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None or not policies.can_see_snapshot(actor, snapshot.organisation_id):
        raise NotFound("No such snapshot.")
    # The project must still be visible too (it is, for the same people; checked all the same).
    _project(session, actor, snapshot.project_id)
    return snapshot


def get_snapshot(*, session: Session, actor: User, snapshot_id: int) -> SnapshotView:
    """Return one snapshot the caller may see."""
    snapshot = load_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
    return view_of(session=session, actor=actor, snapshot=snapshot)


def get_snapshot_by_number(
    *, session: Session, actor: User, project_id: int, number: int
) -> SnapshotView:
    """Return a project's snapshot by its number."""
    project = _project(session, actor, project_id)
    snapshot = session.scalar(
        select(Snapshot).where(Snapshot.project_id == project.id, Snapshot.number == number)
    )
    if snapshot is None:
        raise NotFound("No such snapshot.")
    return _view(snapshot, project.name)


def open_download(
    *, session: Session, actor: User, snapshot_id: int, snapshots_dir: Path
) -> Download:
    """Return what a download of the snapshot may serve: 404 to outsiders, 409 until ready."""
    snapshot = load_snapshot(session=session, actor=actor, snapshot_id=snapshot_id)
    view = view_of(session=session, actor=actor, snapshot=snapshot)
    if not view.ready:
        raise Conflict(
            f"Snapshot {view.number} is {view.status.value}; it can be downloaded once ready.",
            details={"status": view.status.value},
        )
    folder = snapshots_dir / snapshot.path
    if not folder.is_dir() or folder.is_symlink():
        raise NotFound("This snapshot's files are missing from the snapshots directory.")
    return Download(
        snapshot_id=snapshot.id,
        folder=folder,
        names=(MANIFEST, CARD, *(f.path for f in view.files)),
        filename_stem=f"{slugify(view.project_name, f'project-{view.project_id}')}"
        f"-snapshot-{view.number}",
        created_at=snapshot.created_at,
    )


def read_card(download: Download) -> str:
    """Return the dataset card's Markdown without its YAML front matter."""
    text = download.file(CARD).read_text(encoding="utf-8")
    return strip_front_matter(text)


def strip_front_matter(text: str) -> str:
    """Remove a leading ``---`` ... ``---`` YAML block (the Hugging Face metadata)."""
    if not text.startswith("---"):
        return text
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "".join(lines[i + 1 :]).lstrip("\n")
    return text


def filters_from(data: SnapshotFiltersIn) -> SnapshotFilters:
    """Return the domain's filters for what a request or a command asked."""
    return SnapshotFilters(
        domain=(data.domain or "").strip() or None,
        accepted_from=data.accepted_from,
        accepted_to=data.accepted_to,
        endpoint_ids=tuple(sorted(set(data.endpoint_ids))) if data.endpoint_ids else None,
    )


def snapshot_out(view: SnapshotView) -> SnapshotOut:
    """Return the API shape of a snapshot's read model."""
    return SnapshotOut(
        id=view.id,
        project_id=view.project_id,
        number=view.number,
        status=view.status,
        filters=view.filters,
        test_fraction=view.test_fraction,
        counts=view.counts,
        total_bytes=view.total_bytes,
        job_id=view.job_id,
        error=view.error,
        created_at=view.created_at,
        ready_at=view.ready_at,
        manifest=view.manifest,
        files=[SnapshotFileOut(**f.__dict__) for f in view.files],
        archive_url=view.archive_url,
    )
