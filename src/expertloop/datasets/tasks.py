"""Background jobs of the datasets domain: build a snapshot's folder, once, atomically.

The build writes into a fresh temporary folder inside the snapshots directory and renames it
into place (``p<project>/s<number>``) only when it is complete; only then is the snapshot marked
ready. A worker killed mid-build leaves a temporary folder that the next attempt removes, and the
snapshot stays ``building`` meanwhile: nobody ever sees half a snapshot.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.datasets.events import SnapshotFailed, SnapshotReady
from expertloop.datasets.folder import (
    FolderResult,
    FolderSpec,
    SnapshotFilters,
    build_snapshot_folder,
)
from expertloop.datasets.models import Snapshot, SnapshotStatus
from expertloop.datasets.snapshots import BUILD_KIND
from expertloop.db import read_transaction, transaction
from expertloop.errors import ExpertLoopError, NotFound
from expertloop.events import emit
from expertloop.jobs.models import FINISHED, Job
from expertloop.jobs.queue import JobQueue
from expertloop.jobs.runner import Handler, JobCancelledError, JobContext
from expertloop.projects import projects as projects_uc
from expertloop.settings import Settings
from expertloop.types import utcnow

TEMP_PREFIX = ".building-"
Progress = Callable[[int, int | None, str], None]


def pseudonym_key(settings: Settings, snapshot_id: int) -> bytes:
    """Return the snapshot's key for pseudonymous expert ids (stable per snapshot, secret)."""
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, f"snapshot:{snapshot_id}".encode(), hashlib.sha256).digest()


def folder_spec(*, session: Session, snapshot: Snapshot, settings: Settings) -> FolderSpec:
    """Return what the folder builder needs for this snapshot (the same every time it is built)."""
    creator = session.get(User, snapshot.created_by_id) if snapshot.created_by_id else None
    if creator is None:
        raise NotFound("The snapshot's creator no longer exists.")
    # Built as whoever asked for it: a project they can no longer see is not built.
    project = projects_uc.get_project(
        session=session, project_id=snapshot.project_id, actor=creator
    )
    return FolderSpec(
        project_id=project.id,
        project_name=project.name,
        project_domain=project.domain,
        snapshot_number=snapshot.number,
        filters=SnapshotFilters.from_json(dict(snapshot.filters or {})),
        test_fraction_bp=snapshot.test_fraction_bp,
        created_by=f"user {creator.id} ({creator.role.value})",
        created_at=snapshot.created_at,
        pseudonym_key=pseudonym_key(settings, snapshot.id),
    )


def write_snapshot(
    *,
    session: Session,
    snapshot: Snapshot,
    settings: Settings,
    out_dir: Path,
    progress: Progress | None = None,
) -> FolderResult:
    """Write the snapshot's folder into ``out_dir`` (which must not hold anything yet)."""
    spec = folder_spec(session=session, snapshot=snapshot, settings=settings)
    return build_snapshot_folder(session=session, spec=spec, out_dir=out_dir, progress=progress)


def _result(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot.id,
        "number": snapshot.number,
        "files": len((snapshot.counts or {}).get("files", [])),
        "total_bytes": snapshot.total_bytes,
        "snapshot_url": f"/projects/{snapshot.project_id}/datasets/{snapshot.number}",
    }


def _remove_leftovers(root: Path, snapshot_id: int) -> None:
    for leftover in root.glob(f"{TEMP_PREFIX}{snapshot_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def build_snapshot_job(ctx: JobContext) -> dict[str, Any]:
    """Build the snapshot's folder and mark it ready; a ready snapshot is returned as it is."""
    settings: Settings = ctx.services["settings"]
    snapshot_id = int(ctx.payload["snapshot_id"])
    with ctx.transaction() as session:
        snapshot = session.get(Snapshot, snapshot_id)
        if snapshot is None:
            raise NotFound(f"Snapshot {snapshot_id} does not exist.")
        if snapshot.status == SnapshotStatus.ready:
            return _result(snapshot)
        if snapshot.status == SnapshotStatus.failed:
            raise ExpertLoopError(snapshot.error or "The snapshot failed.")
        relative = snapshot.path

    root = settings.resolved_snapshots_dir()
    root.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(root, snapshot_id)
    temp = root / f"{TEMP_PREFIX}{snapshot_id}-{ctx.attempt}-{uuid.uuid4().hex[:8]}"
    final = root / relative
    try:
        # One long read; on SQLite it must hold no write lock (progress and heartbeats write).
        with read_transaction(ctx.session_factory) as session:
            snapshot = session.get(Snapshot, snapshot_id)
            assert snapshot is not None
            result = write_snapshot(
                session=session,
                snapshot=snapshot,
                settings=settings,
                out_dir=temp,
                progress=ctx.progress,
            )
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            if _is_ready(ctx, snapshot_id):
                # An attempt taken for dead finished after all: keep its folder, drop ours.
                shutil.rmtree(temp, ignore_errors=True)
                return _mark_ready(ctx, snapshot_id, result)
            # A folder without a ready row is what a worker left that died after the rename
            # and before marking ready; nobody was ever served it.
            shutil.rmtree(final)
        temp.replace(final)
    except JobCancelledError:
        shutil.rmtree(temp, ignore_errors=True)
        _fail(ctx, snapshot_id, "The build was cancelled.")
        raise
    except ExpertLoopError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        _fail(ctx, snapshot_id, exc.message)
        raise
    except Exception:
        shutil.rmtree(temp, ignore_errors=True)
        if _last_attempt(ctx):
            _fail(ctx, snapshot_id, "The build failed unexpectedly; the worker's log has why.")
        raise
    return _mark_ready(ctx, snapshot_id, result)


def _mark_ready(ctx: JobContext, snapshot_id: int, result: FolderResult) -> dict[str, Any]:
    with ctx.transaction() as session:
        snapshot = session.get(Snapshot, snapshot_id, with_for_update=True)
        assert snapshot is not None
        if snapshot.status != SnapshotStatus.building:
            return _result(snapshot)
        snapshot.status = SnapshotStatus.ready
        snapshot.manifest = result.manifest
        snapshot.counts = {**result.counts, "files": list(result.files)}
        snapshot.total_bytes = result.total_bytes
        snapshot.ready_at = utcnow()
        snapshot.error = ""
        session.flush()
        emit(
            SnapshotReady(
                actor_user_id=snapshot.created_by_id,
                organisation_id=snapshot.organisation_id,
                subject_type="snapshot",
                subject_id=str(snapshot.id),
                project_id=snapshot.project_id,
                number=snapshot.number,
            ),
            session=session,
        )
        return _result(snapshot)


def _is_ready(ctx: JobContext, snapshot_id: int) -> bool:
    with ctx.transaction() as session:
        snapshot = session.get(Snapshot, snapshot_id)
        return snapshot is not None and snapshot.status == SnapshotStatus.ready


def _last_attempt(ctx: JobContext) -> bool:
    with ctx.transaction() as session:
        job = session.get(Job, ctx.job_id)
        return job is None or ctx.attempt >= job.max_attempts


def _fail(ctx: JobContext, snapshot_id: int, message: str) -> None:
    with ctx.transaction() as session:
        mark_failed(session=session, snapshot_id=snapshot_id, message=message)


def mark_failed(*, session: Session, snapshot_id: int, message: str) -> None:
    """Mark a building snapshot failed with ``message`` (a ready one is left alone)."""
    snapshot = session.get(Snapshot, snapshot_id, with_for_update=True)
    if snapshot is None or snapshot.status != SnapshotStatus.building:
        return
    snapshot.status = SnapshotStatus.failed
    snapshot.error = message[:4000]
    session.flush()
    emit(
        SnapshotFailed(
            actor_user_id=snapshot.created_by_id,
            organisation_id=snapshot.organisation_id,
            subject_type="snapshot",
            subject_id=str(snapshot.id),
            project_id=snapshot.project_id,
            number=snapshot.number,
            error=snapshot.error,
        ),
        session=session,
    )


def settle_orphans(queue: JobQueue) -> list[int]:
    """Fail building snapshots whose job ended without them (e.g. its last worker died)."""
    with transaction(queue.session_factory) as session:
        rows = session.execute(
            select(Snapshot.id, Job.error)
            .join(Job, Job.id == Snapshot.job_id)
            .where(Snapshot.status == SnapshotStatus.building, Job.status.in_(FINISHED))
        ).all()
        for snapshot_id, error in rows:
            mark_failed(
                session=session,
                snapshot_id=snapshot_id,
                message=error or "The snapshot's job ended before the snapshot was built.",
            )
    return [snapshot_id for snapshot_id, _error in rows]


HANDLERS: dict[str, Handler] = {BUILD_KIND: build_snapshot_job}
CHORES: dict[str, Callable[[JobQueue], object]] = {"datasets.settle_snapshots": settle_orphans}
