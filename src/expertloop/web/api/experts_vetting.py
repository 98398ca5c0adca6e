"""JSON API: the vetting pipeline (operators' board, candidates and decisions) and the
candidate's own status.

``decide_and_staff`` is where the two sibling domains meet (experts may not import projects): a
move to the work sample records the vetting project in ``experts.vetting.decide`` and then staffs
the candidate there through ``projects.projects.staff_user``, in the request's one transaction.
The decision page calls it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import NotFound, ValidationFailed
from expertloop.experts import vetting
from expertloop.experts.models import VettingState, VettingTransition
from expertloop.experts.pipeline import check_staffable
from expertloop.experts.schemas import (
    BoardOut,
    CandidateDetailOut,
    CandidateOut,
    CandidatePageOut,
    DecisionIn,
    DecisionOut,
    MyVettingOut,
    TransitionOut,
    WithdrawIn,
)
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import StaffRole
from expertloop.web.api.common import ERRORS, ErrorOut
from expertloop.web.deps import DB, IP, CurrentUser

router = APIRouter(tags=["experts"], responses=ERRORS)


@dataclass
class Decided:
    """The move made and, for a work sample, the project the candidate is now staffed on."""

    transition: VettingTransition
    staffed_project_id: int | None


def decide_and_staff(
    *,
    session: Session,
    actor: User,
    candidate_id: int,
    to: VettingState,
    reason: str,
    version: int | None,
    project_id: int | None = None,
    ip: str | None = None,
) -> Decided:
    """Decide on a candidate (operators only, others 404); a work sample also staffs them."""
    candidate = vetting.get_candidate(session, actor=actor, candidate_id=candidate_id)
    if to != VettingState.work_sample:
        row = vetting.decide(
            session, actor=actor, candidate_id=candidate.id, to=to, reason=reason,
            version=version, ip=ip,
        )  # fmt: skip
        return Decided(row, None)
    if project_id is None:
        raise ValidationFailed(
            "Choose the vetting project the work sample is done on.",
            details={"field": "project_id"},
        )
    project = projects_uc.get_project(session=session, project_id=project_id, actor=actor)
    row = vetting.decide(
        session, actor=actor, candidate_id=candidate.id, to=to, reason=reason,
        version=version, work_sample_project_id=project.id, ip=ip,
    )  # fmt: skip
    assert candidate.user_id is not None  # decide refuses a work sample without an account
    check_staffable(session, candidate.user_id, project.id)
    if not projects_uc.has_staffing(session, project.id, candidate.user_id):
        projects_uc.staff_user(
            session=session,
            actor=actor,
            project=project,
            user_id=candidate.user_id,
            role=StaffRole.expert,
        )
    return Decided(row, project.id)


@router.get("/candidates/board", response_model=BoardOut)
def candidate_board(
    user: CurrentUser, db: DB, weeks: Annotated[int, Query(ge=1, le=104)] = 12
) -> vetting.Board:
    """Return candidates per state now, the funnel, and the moves per week (operators)."""
    return vetting.board(db, actor=user, weeks=weeks)


@router.get("/candidates", response_model=CandidatePageOut)
def list_candidates(
    user: CurrentUser,
    db: DB,
    state: VettingState | None = None,
    domain: Annotated[str | None, Query(max_length=80)] = None,
    q: Annotated[str, Query(max_length=200, description="Part of a name or email")] = "",
    limit: Annotated[int, Query(ge=1, le=vetting.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> vetting.CandidatePage:
    """List candidates, latest move first, by state, domain and name or email (operators)."""
    return vetting.list_candidates(
        db, actor=user, state=state, domain=domain, search=q, limit=limit, offset=offset
    )


@router.get("/candidates/{candidate_id}", response_model=CandidateDetailOut)
def get_candidate(candidate_id: int, user: CurrentUser, db: DB) -> CandidateDetailOut:
    """Return a candidate: profile, the history of decisions and the moves allowed next."""
    view = vetting.detail(db, actor=user, candidate_id=candidate_id)
    return CandidateDetailOut.model_validate(view)


@router.post(
    "/candidates/{candidate_id}/decision",
    response_model=DecisionOut,
    responses={409: {"model": ErrorOut, "description": "Stale version, or a move not allowed"}},
)
def decide(candidate_id: int, body: DecisionIn, user: CurrentUser, db: DB, ip: IP) -> DecisionOut:
    """Move a candidate to the next state with a reason; send the version you decided on."""
    done = decide_and_staff(
        session=db,
        actor=user,
        candidate_id=candidate_id,
        to=body.to,
        reason=body.reason,
        version=body.version,
        project_id=body.project_id,
        ip=ip,
    )
    view = vetting.detail(db, actor=user, candidate_id=candidate_id)
    moved = next(t for t in view.history if t.id == done.transition.id)
    return DecisionOut(
        transition=TransitionOut.model_validate(moved),
        candidate=CandidateOut.model_validate(view.candidate),
        staffed_project_id=done.staffed_project_id,
    )


@router.get("/me/vetting", response_model=MyVettingOut)
def my_vetting(user: CurrentUser, db: DB) -> vetting.MyVetting:
    """Return where you stand in vetting, what comes next and the reasons you are told."""
    status = vetting.my_status(db, user)
    if status is None:
        raise NotFound("You are not in the vetting pipeline.")
    return status


@router.post(
    "/me/vetting/withdraw",
    response_model=MyVettingOut,
    responses={409: {"model": ErrorOut, "description": "Stale version, or already withdrawn"}},
)
def withdraw(body: WithdrawIn, user: CurrentUser, db: DB, ip: IP) -> vetting.MyVetting:
    """Withdraw your application (a reason is optional); returns where you stand now."""
    vetting.withdraw(db, user=user, reason=body.reason, version=body.version, ip=ip)
    status = vetting.my_status(db, user)
    assert status is not None
    return status
