"""Job pages: the jobs you may see, and one job's progress (htmx polling until it ends)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.jobs import records
from expertloop.jobs.models import JobStatus
from expertloop.web.deps import DB, CurrentUser
from expertloop.web.templating import render

router = APIRouter()
PAGE_SIZE = 50


@router.get("/jobs")
def job_list(
    request: Request,
    user: CurrentUser,
    db: DB,
    page: Annotated[int, Query(ge=1)] = 1,
    status: Annotated[JobStatus | None, Query()] = None,
) -> Response:
    """List the background jobs you may see, newest first."""
    rows, total = records.list_jobs(
        session=db, actor=user, status=status, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "jobs/list.html",
        {
            "jobs": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "status": status,
            "statuses": list(JobStatus),
            "pager_extra": f"&status={status.value}" if status else "",
        },
    )


@router.get("/jobs/{job_id}")
def job_detail(request: Request, job_id: int, user: CurrentUser, db: DB) -> Response:
    """Show one job with live progress."""
    job = records.get_job(session=db, job_id=job_id, actor=user)
    return render(request, "jobs/detail.html", {"job": job})


@router.get("/jobs/{job_id}/progress")
def job_progress(request: Request, job_id: int, user: CurrentUser, db: DB) -> Response:
    """Return the progress partial (polled by the job page until the job ends)."""
    job = records.get_job(session=db, job_id=job_id, actor=user)
    return render(request, "jobs/_progress.html", {"job": job})


@router.post("/jobs/{job_id}/cancel")
def job_cancel(job_id: int, user: CurrentUser, db: DB) -> Response:
    """Cancel a job from its page."""
    records.cancel_job(session=db, job_id=job_id, actor=user)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
