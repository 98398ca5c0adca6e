"""The problem-set editor's "Run all steps": a background job, followed in place with htmx."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.errors import ExpertLoopError, NotFound
from expertloop.web.deps import DB, CurrentUser, Jobs
from expertloop.web.templating import render
from expertloop.workbench import batch_runs

router = APIRouter()


@router.post("/problem-sets/{problem_set_id}/run-all")
def run_all_steps(
    request: Request, problem_set_id: int, user: CurrentUser, db: DB, jobs: Jobs
) -> Response:
    """Start running every step on the target models; show the job's progress (or open it)."""
    in_place = request.headers.get("HX-Request") == "true"

    try:
        # No savepoint around it: the job is handed to the queue on the request's commit.
        job = batch_runs.submit_run_all(
            session=db, queue=jobs, actor=user, problem_set_id=problem_set_id
        )
    except NotFound:
        raise
    except ExpertLoopError as exc:
        if not in_place:
            raise
        return render(request, "workbench/_run_all_refused.html", {"message": exc.message})
    if in_place:
        return render(request, "jobs/_progress.html", {"job": job})
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
