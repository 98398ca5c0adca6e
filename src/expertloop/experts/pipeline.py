"""The vetting pipeline's states and the one function that moves a candidate between them.

Every move is a person's decision: the candidate's own (applying, withdrawing) or an operator's,
who must give a reason. Each move writes an immutable ``VettingTransition`` row and an audit
event, and keeps the profile's copy of the state (used by matching) in step.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.accounts.policies import is_operator
from expertloop.errors import Conflict, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.experts import events
from expertloop.experts.models import Candidate, ExpertProfile, VettingState, VettingTransition
from expertloop.types import utcnow

S = VettingState

# The gates, in order, and what an operator may decide at each.
ORDER: tuple[VettingState, ...] = (
    S.invited,
    S.applied,
    S.assessment,
    S.interview,
    S.work_sample,
    S.approved,
)
_ACTIVE = frozenset({S.applied, S.assessment, S.interview, S.work_sample, S.approved})

TRANSITIONS: dict[VettingState, frozenset[VettingState]] = {
    S.invited: frozenset({S.applied, S.rejected, S.withdrawn}),
    # An operator may skip a gate (no question bank for the domain, a known expert): with a reason.
    S.applied: frozenset(
        {S.assessment, S.interview, S.work_sample, S.approved, S.rejected, S.paused, S.withdrawn}
    ),
    S.assessment: frozenset(
        {S.interview, S.work_sample, S.approved, S.rejected, S.paused, S.withdrawn}
    ),
    S.interview: frozenset(
        {S.assessment, S.work_sample, S.approved, S.rejected, S.paused, S.withdrawn}
    ),
    S.work_sample: frozenset({S.interview, S.approved, S.rejected, S.paused, S.withdrawn}),
    S.approved: frozenset({S.paused, S.withdrawn}),
    S.paused: _ACTIVE | frozenset({S.rejected, S.withdrawn}),
    S.rejected: frozenset({S.applied}),  # reopened by an operator, with a reason
    S.withdrawn: frozenset(),
}

# The moves a candidate makes themself; every other move is an operator's.
BY_CANDIDATE: frozenset[tuple[VettingState, VettingState]] = frozenset(
    {(S.invited, S.applied)}
    | {(s, S.withdrawn) for s in TRANSITIONS if S.withdrawn in TRANSITIONS[s]}
)

# What the candidate is told comes next, per state.
NEXT_STEP: dict[VettingState, str] = {
    S.invited: "Accept your invitation and fill in your profile to apply.",
    S.applied: "Thank you for applying. An operator reviews your profile and invites you to the "
    "domain assessment.",
    S.assessment: "Take the domain assessment. When it is graded, an operator decides whether you "
    "go on to the interview.",
    S.interview: "Take the text interview. An operator reads it and decides on the next step.",
    S.work_sample: "Complete the paid work sample on the vetting project and submit it for review.",
    S.approved: "You are approved. Projects that need your knowledge will invite you; accept "
    "their NDA to start.",
    S.rejected: "Your application was not accepted this time. The reason is shown below.",
    S.paused: "Your application is paused. The reason is shown below.",
    S.withdrawn: "You withdrew your application.",
}


def may_move(actor: User, candidate: Candidate, to: VettingState) -> bool:
    """Tell whether ``actor`` may move ``candidate`` to state ``to`` (assuming it is allowed)."""
    if (candidate.state, to) in BY_CANDIDATE and candidate.user_id == actor.id:
        return True
    return is_operator(actor)


def move(
    *,
    session: Session,
    actor: User | None,
    candidate: Candidate,
    to: VettingState,
    reason: str,
    expected_version: int | None = None,
    ip: str | None = None,
) -> VettingTransition:
    """Move the candidate to ``to``; ``actor`` None is the system (invitations only)."""
    if to not in TRANSITIONS[candidate.state]:
        raise Conflict(
            f"A candidate who is {candidate.state.value.replace('_', ' ')} cannot move to "
            f"{to.value.replace('_', ' ')}.",
            details={
                "state": candidate.state.value,
                "allowed": sorted(TRANSITIONS[candidate.state]),
            },
        )
    if actor is not None and not may_move(actor, candidate, to):
        raise PermissionDenied("Only an operator decides on a candidate.")
    by_candidate = actor is not None and candidate.user_id == actor.id and not is_operator(actor)
    reason = reason.strip()
    if not reason and not by_candidate:
        raise ValidationFailed("Give a reason for the decision.", details={"field": "reason"})
    if expected_version is not None and expected_version != candidate.version:
        raise Conflict(
            "Someone else decided on this candidate meanwhile; reload to see where they stand.",
            details={"version": candidate.version},
        )
    now = utcnow()
    from_state = candidate.state
    candidate.state = to
    candidate.state_changed_at = now
    candidate.version += 1
    row = VettingTransition(
        candidate_id=candidate.id,
        from_state=from_state,
        to_state=to,
        actor_id=actor.id if actor else None,
        reason=reason,
        at=now,
    )
    session.add(row)
    if candidate.user_id is not None:
        session.execute(
            update(ExpertProfile)
            .where(ExpertProfile.user_id == candidate.user_id)
            .values(vetting_state=to)
        )
    session.flush()
    emit(
        events.CandidateMoved(
            actor_user_id=actor.id if actor else None,
            organisation_id=actor.organisation_id if actor else None,
            ip=ip,
            subject_type="expert_candidate",
            subject_id=str(candidate.id),
            candidate_id=candidate.id,
            from_state=from_state.value,
            to_state=to.value,
            reason=reason,
        ),
        session=session,
    )
    return row


def enter(
    *,
    session: Session,
    actor: User | None,
    candidate: Candidate,
    reason: str,
    ip: str | None = None,
) -> VettingTransition:
    """Write a new candidate's first transition (none → invited) and its audit event.

    The candidate row must be new (added and flushed, state ``invited``); this is the one way a
    candidate enters the pipeline (``experts.invitations``), so the funnel counts every entry.
    """
    if candidate.state != S.invited or session.scalar(
        select(VettingTransition.id).where(VettingTransition.candidate_id == candidate.id)
    ):
        raise Conflict("This candidate is already in the pipeline.")
    row = VettingTransition(
        candidate_id=candidate.id,
        from_state=None,
        to_state=S.invited,
        actor_id=actor.id if actor else None,
        reason=reason.strip(),
        at=candidate.state_changed_at,
    )
    session.add(row)
    session.flush()
    emit(
        events.CandidateEntered(
            actor_user_id=actor.id if actor else None,
            organisation_id=actor.organisation_id if actor else None,
            ip=ip,
            subject_type="expert_candidate",
            subject_id=str(candidate.id),
            candidate_id=candidate.id,
            source=candidate.source.value,
        ),
        session=session,
    )
    return row


def history(session: Session, candidate_id: int) -> list[VettingTransition]:
    """Return the candidate's transitions, oldest first."""
    query = select(VettingTransition).where(VettingTransition.candidate_id == candidate_id)
    return list(session.scalars(query.order_by(VettingTransition.id)))


def state_of_user(session: Session, user_id: int) -> VettingState:
    """Return a user's vetting state: their candidate's, or ``approved`` for operator-made users."""
    state = session.scalar(select(Candidate.state).where(Candidate.user_id == user_id))
    return state if state is not None else S.approved


# States in which a user may be staffed on a project: approved experts anywhere; a candidate
# doing the paid work sample only on their vetting project.
def check_staffable(session: Session, user_id: int, project_id: int) -> None:
    """Raise ``Conflict`` unless the user's vetting lets them be staffed on the project."""
    row = session.execute(
        select(Candidate.state, Candidate.work_sample_project_id).where(
            Candidate.user_id == user_id
        )
    ).first()
    if row is None or row.state == S.approved:
        return
    if row.state == S.work_sample and row.work_sample_project_id == project_id:
        return
    raise Conflict(
        f"This expert is not vetted yet (they are {row.state.value.replace('_', ' ')}); "
        "approve them first, or staff them on their work-sample project.",
        details={"vetting_state": row.state.value},
    )
