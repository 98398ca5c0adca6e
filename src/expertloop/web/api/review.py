"""Review comments on steps and spans, what changed since a return, and review settings."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.errors import NotFound, PermissionDenied
from expertloop.review import comments, returns
from expertloop.review.schemas import (
    CommentIn,
    CommentOut,
    HomeCommentOut,
    ReviewSettingsIn,
    ReviewSettingsOut,
    SinceReturnOut,
)
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, CurrentUser
from expertloop.workbench import access as load

router = APIRouter(tags=["review"], responses=ERRORS)


@router.get("/steps/{step_id}/comments", response_model=list[CommentOut])
def list_comments(step_id: int, user: CurrentUser, db: DB) -> list[CommentOut]:
    """Return the review comments on a step, oldest first."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    if not comments.can_see(session=db, loaded=loaded):
        raise PermissionDenied("This project does not share review comments with its client.")
    return [CommentOut.model_validate(c) for c in comments.for_step(session=db, step_id=step.id)]


@router.post("/steps/{step_id}/comments", response_model=CommentOut, status_code=201)
def add_comment(step_id: int, body: CommentIn, user: CurrentUser, db: DB) -> CommentOut:
    """Comment on a step, or on a span of a prompt (revision_id) or an answer (step_run_id)."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    row = comments.add(
        session=db,
        loaded=loaded,
        step=step,
        body=body.body,
        revision_id=body.revision_id,
        step_run_id=body.step_run_id,
        start=body.start,
        end=body.end,
        quote=body.quote,
    )
    view = next(c for c in comments.for_step(session=db, step_id=step.id) if c.id == row.id)
    return CommentOut.model_validate(view)


@router.get("/me/review-comments", response_model=list[HomeCommentOut])
def my_review_comments(user: CurrentUser, db: DB) -> list[HomeCommentOut]:
    """Return the newest review comments on your own problem sets."""
    return [HomeCommentOut.model_validate(c) for c in comments.for_author(session=db, actor=user)]


@router.get("/problem-sets/{problem_set_id}/since-return", response_model=SinceReturnOut)
def since_return(problem_set_id: int, user: CurrentUser, db: DB) -> SinceReturnOut:
    """Return, per step, the word diffs of prompt and ideal answer since the latest return."""
    loaded = load.problem_set(session=db, actor=user, problem_set_id=problem_set_id)
    changes = returns.since_return(session=db, loaded=loaded)
    if changes is None:
        raise NotFound("Nothing to compare: no resubmission since a return, or you review none.")
    return SinceReturnOut.model_validate(changes)


@router.get("/projects/{project_id}/review-settings", response_model=ReviewSettingsOut)
def get_review_settings(project_id: int, user: CurrentUser, db: DB) -> ReviewSettingsOut:
    """Return how the project shares review (does its client read the comments)."""
    access = load.project_access(session=db, actor=user, project_id=project_id)
    return ReviewSettingsOut(
        project_id=access.project.id,
        clients_see_comments=comments.clients_see(session=db, project_id=access.project.id),
    )


@router.put("/projects/{project_id}/review-settings", response_model=ReviewSettingsOut)
def set_review_settings(
    project_id: int, body: ReviewSettingsIn, user: CurrentUser, db: DB
) -> ReviewSettingsOut:
    """Let the project's client read review comments, or stop it (client and operators)."""
    access = load.project_access(session=db, actor=user, project_id=project_id)
    row = comments.set_clients_see(
        session=db, access=access, clients_see_comments=body.clients_see_comments
    )
    return ReviewSettingsOut(
        project_id=row.project_id, clients_see_comments=row.clients_see_comments
    )
