"""Run all steps of a problem set on its target models as a background job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from sqlalchemy.exc import IntegrityError

from expertloop.jobs.schemas import JobOut
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, CurrentUser, Jobs
from expertloop.workbench import batch_runs
from expertloop.workbench.schemas import RunAllIn

router = APIRouter(tags=["workbench"], responses=ERRORS)


@router.post("/problem-sets/{problem_set_id}/run-all", response_model=JobOut, status_code=202)
def run_all_steps(
    problem_set_id: int,
    user: CurrentUser,
    db: DB,
    jobs: Jobs,
    body: RunAllIn | None = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobOut:
    """Run every step's newest revision on the target models, chained steps after the steps
    they carry (the author); follow the job at ``/api/v1/jobs/{id}``. The same Idempotency-Key
    gives the same job; without one, an unfinished run of all steps is answered with its job."""

    def submit() -> JobOut:
        job = batch_runs.submit_run_all(
            session=db,
            queue=jobs,
            actor=user,
            problem_set_id=problem_set_id,
            endpoint_ids=body.endpoint_ids if body else None,
            idempotency_key=idempotency_key,
        )
        return JobOut.model_validate(job)

    try:
        return submit()
    except IntegrityError:
        db.rollback()  # a twin request with the same key got there first: answer with its job
        return submit()
