"""Isolation cases for review and the step history: B's step carries a review comment (by the
operator) and B's project has review settings; outsiders get 404 on every route with an id, see
none of it, and change nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.review import comments
from expertloop.review.models import ReviewComment, ReviewReturn, ReviewSettings
from expertloop.workbench import access as wb_access
from expertloop.workbench.models import Step
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case


@b_side
def _b_review(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """The operator comments on a span of B's answer; B's client shares comments with itself."""
    step = db.get(Step, ids["b_step_id"])
    assert step is not None
    loaded = wb_access.problem_set(
        session=db, actor=world.operator, problem_set_id=step.problem_set_id
    )
    row = comments.add(
        session=db,
        loaded=loaded,
        step=step,
        body="B's review comment",
        step_run_id=ids["b_step_run_id"],
        quote="margin",
    )
    client = wb_access.project_access(
        session=db, actor=world.client_b, project_id=world.project_b.id
    )
    comments.set_clients_see(session=db, access=client, clients_see_comments=True)
    db.commit()
    return {"b_comment_id": row.id}


@b_state("review")
def _review(db: Session, world: World) -> Any:
    rows = db.scalars(
        select(ReviewComment).where(ReviewComment.project_id == world.project_b.id)
    ).all()
    settings = db.get(ReviewSettings, world.project_b.id)
    returned = db.scalars(select(ReviewReturn.id)).all()
    return (
        sorted((r.id, r.body, r.target, r.start, r.end, r.quote) for r in rows),
        settings.clients_see_comments if settings else None,
        sorted(returned),
    )


@isolation_case("review")
def _review_probes(w: World) -> list[Probe]:
    p = w.project_b.id
    api = "/api/v1/steps/{b_step_id}/comments"
    return [
        Probe("GET", api),
        Probe("POST", api, {"body": "planted"}),
        Probe("POST", api, {"body": "planted", "step_run_id": "{b_step_run_id}", "quote": "B"}),
        Probe("POST", api, {"body": "planted", "revision_id": "{b_revision_id}"}),
        Probe("GET", "/api/v1/problem-sets/{b_problem_set_id}/since-return"),
        Probe("GET", f"/api/v1/projects/{p}/review-settings"),
        Probe("PUT", f"/api/v1/projects/{p}/review-settings", {"clients_see_comments": False}),
        Probe("GET", "/steps/{b_step_id}/comments"),
        Probe("POST", "/steps/{b_step_id}/comments"),
    ]


@isolation_case("step_history")
def _history_probes(w: World) -> list[Probe]:
    return [
        Probe("GET", "/api/v1/steps/{b_step_id}/history"),
        Probe("GET", "/api/v1/steps/{b_step_id}/compare?left=1&right=1"),
        Probe("GET", "/steps/{b_step_id}/compare?left=1&right=1"),
    ]
