"""Background jobs: follow their progress, read their result or error, cancel them."""

from __future__ import annotations

from fastapi import APIRouter, Query

from expertloop.jobs import records
from expertloop.jobs.models import JobStatus
from expertloop.jobs.schemas import JobOut
from expertloop.web.api.common import ERRORS, ErrorOut, PageOut
from expertloop.web.deps import DB, CurrentUser, Paging

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERRORS)


@router.get("", response_model=PageOut[JobOut])
def list_jobs(
    user: CurrentUser,
    db: DB,
    page: Paging,
    kind: str | None = None,
    status: JobStatus | None = None,
    project_id: int | None = Query(default=None),
) -> PageOut[JobOut]:
    """List the jobs you may see (yours; a client's organisation's; all for operators)."""
    rows, total = records.list_jobs(
        session=db,
        actor=user,
        limit=page.limit,
        offset=page.offset,
        kind=kind,
        status=status,
        project_id=project_id,
    )
    return PageOut[JobOut](
        items=[JobOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: int, user: CurrentUser, db: DB) -> JobOut:
    """Return a job: status, progress (done/total), result or error."""
    return JobOut.model_validate(records.get_job(session=db, job_id=job_id, actor=user))


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    responses={409: {"model": ErrorOut, "description": "The job has already ended"}},
)
def cancel_job(job_id: int, user: CurrentUser, db: DB) -> JobOut:
    """Cancel a queued job, or ask a running one to stop at its next progress report."""
    return JobOut.model_validate(records.cancel_job(session=db, job_id=job_id, actor=user))
