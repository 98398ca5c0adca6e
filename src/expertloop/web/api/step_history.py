"""A step's history: every revision with its runs, answers and annotations; two side by side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, CurrentUser
from expertloop.workbench import access as load
from expertloop.workbench import step_history
from expertloop.workbench.step_history import Comparison, StepHistory

router = APIRouter(tags=["workbench"], responses=ERRORS)


@router.get("/steps/{step_id}/history", response_model=StepHistory)
def get_history(step_id: int, user: CurrentUser, db: DB) -> StepHistory:
    """Return every revision of the step, newest first, with runs, scores and annotations."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    return step_history.history(session=db, step=step, project_id=loaded.access.project.id)


@router.get("/steps/{step_id}/compare", response_model=Comparison)
def compare_revisions(
    step_id: int,
    user: CurrentUser,
    db: DB,
    left: Annotated[int, Query(ge=1, description="Revision number shown on the left.")],
    right: Annotated[int, Query(ge=1, description="Revision number shown on the right.")],
) -> Comparison:
    """Return two revisions side by side: prompt diff and each model's newest answers."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    hist = step_history.history(session=db, step=step, project_id=loaded.access.project.id)
    return step_history.compare(hist, left, right)
