"""Dataset snapshots: create one (a job builds it), list them, read one, download it streamed."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from expertloop.datasets import archives, snapshots
from expertloop.datasets.schemas import SnapshotIn, SnapshotOut
from expertloop.web.api.common import ERRORS, ErrorOut, PageOut
from expertloop.web.deps import DB, AppSettings, CurrentUser, Jobs, Paging

router = APIRouter(tags=["datasets"], responses=ERRORS)

NOT_READY: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The snapshot is not ready (yet)"}
}
MEDIA_TYPES = {
    ".jsonl": "application/x-ndjson",
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
    ".md": "text/markdown; charset=utf-8",
}


def attachment(filename: str) -> dict[str, str]:
    """Return the header that makes a browser save the body as ``filename`` (ASCII, quoted)."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


@router.post(
    "/projects/{project_id}/snapshots",
    response_model=SnapshotOut,
    status_code=202,
    summary="Create a snapshot",
)
def create_snapshot(
    project_id: int, body: SnapshotIn, user: CurrentUser, db: DB, queue: Jobs
) -> SnapshotOut:
    """Number a new snapshot of the project's accepted problem sets; a job builds it.

    Follow ``job_id`` at ``/api/v1/jobs/{job_id}`` (or poll the snapshot) until ``status`` is
    ``ready``. Operators and the project's clients only.
    """
    snapshot = snapshots.create_snapshot(
        session=db,
        queue=queue,
        actor=user,
        project_id=project_id,
        filters=snapshots.filters_from(body.filters),
        test_fraction_bp=round(body.test_fraction * 10_000),
        idempotency_key=body.idempotency_key,
    )
    return snapshots.snapshot_out(snapshots.view_of(session=db, actor=user, snapshot=snapshot))


@router.get("/projects/{project_id}/snapshots", response_model=PageOut[SnapshotOut])
def list_snapshots(
    project_id: int, user: CurrentUser, db: DB, page: Paging
) -> PageOut[SnapshotOut]:
    """List the project's snapshots, newest first."""
    rows, total = snapshots.list_snapshots(
        session=db, actor=user, project_id=project_id, limit=page.limit, offset=page.offset
    )
    return PageOut[SnapshotOut](
        items=[snapshots.snapshot_out(v) for v in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/snapshots/{snapshot_id}", response_model=SnapshotOut)
def get_snapshot(snapshot_id: int, user: CurrentUser, db: DB) -> SnapshotOut:
    """Return a snapshot: status, counts, and once ready its manifest and files."""
    return snapshots.snapshot_out(
        snapshots.get_snapshot(session=db, actor=user, snapshot_id=snapshot_id)
    )


@router.get(
    "/snapshots/{snapshot_id}/archive",
    response_class=StreamingResponse,
    responses={
        **NOT_READY,
        200: {"content": {"application/zip": {}, "application/x-tar": {}}},
    },
)
def download_archive(
    snapshot_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    archive_format: Literal["zip", "tar"] = Query(default="zip", alias="format"),
) -> StreamingResponse:
    """Download the whole snapshot folder as a zip (default) or a tar, streamed."""
    download = snapshots.open_download(
        session=db,
        actor=user,
        snapshot_id=snapshot_id,
        snapshots_dir=settings.resolved_snapshots_dir(),
    )
    return StreamingResponse(
        archives.iter_archive(download, archive_format),
        media_type=archives.MEDIA_TYPES[archive_format],
        headers=attachment(f"{download.filename_stem}.{archive_format}"),
    )


@router.get(
    "/snapshots/{snapshot_id}/files/{path:path}",
    response_class=StreamingResponse,
    responses={**NOT_READY, 200: {"content": {"application/octet-stream": {}}}},
)
def download_file(
    snapshot_id: int, path: str, user: CurrentUser, db: DB, settings: AppSettings
) -> StreamingResponse:
    """Download one file the snapshot's manifest lists (or ``manifest.json``, ``README.md``)."""
    download = snapshots.open_download(
        session=db,
        actor=user,
        snapshot_id=snapshot_id,
        snapshots_dir=settings.resolved_snapshots_dir(),
    )
    on_disk = download.file(path)
    name = path.removeprefix("data/").replace("/", "-")
    return StreamingResponse(
        archives.iter_file(on_disk),
        media_type=MEDIA_TYPES.get(on_disk.suffix, "application/octet-stream"),
        headers={
            **attachment(f"{download.filename_stem}-{name}"),
            "Content-Length": str(on_disk.stat().st_size),
        },
    )
