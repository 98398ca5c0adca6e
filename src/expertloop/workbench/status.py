"""The problem-set state machine: who may move it where, and what must hold first.

draft ─start/run→ in_progress ─submit→ submitted ─start_review→ in_review
submitted | in_review ─accept→ accepted;  ─return (comment)→ returned ─edit/submit→ …
"""

from __future__ import annotations

import enum

from sqlalchemy.orm import Session

from expertloop.errors import Conflict, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.types import utcnow
from expertloop.workbench import events
from expertloop.workbench.access import Loaded
from expertloop.workbench.models import ProblemSet, Status
from expertloop.workbench.progress import RULE, unfinished_steps


class Action(enum.StrEnum):
    """What can be done to a problem set's status."""

    start = "start"
    submit = "submit"
    start_review = "start_review"
    accept = "accept"
    return_ = "return"


# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.start: (frozenset({Status.draft}), Status.in_progress),
    Action.submit: (
        frozenset({Status.draft, Status.in_progress, Status.returned}),
        Status.submitted,
    ),
    Action.start_review: (frozenset({Status.submitted}), Status.in_review),
    Action.accept: (frozenset({Status.submitted, Status.in_review}), Status.accepted),
    Action.return_: (frozenset({Status.submitted, Status.in_review}), Status.returned),
}

_AUTHOR_ACTIONS = frozenset({Action.start, Action.submit})


def allowed_actions(loaded: Loaded) -> list[Action]:
    """Return the actions the actor may take on the problem set now."""
    ps = loaded.problem_set
    result = []
    for action, (sources, _target) in TRANSITIONS.items():
        if ps.status not in sources:
            continue
        if action in _AUTHOR_ACTIONS and ps.author_id != loaded.access.actor.id:
            continue
        if action not in _AUTHOR_ACTIONS and (
            not loaded.access.is_reviewer or ps.author_id == loaded.access.actor.id
        ):
            continue
        result.append(action)
    return result


def transition(
    *,
    session: Session,
    loaded: Loaded,
    action: Action,
    comment: str = "",
    version: int | None = None,
) -> ProblemSet:
    """Move the problem set by ``action``, or raise a clear error when that is not allowed."""
    ps = loaded.problem_set
    access = loaded.access
    sources, target = TRANSITIONS[action]
    if action in _AUTHOR_ACTIONS:
        if ps.author_id != access.actor.id:
            raise PermissionDenied("Only the author can do this.")
    elif not access.is_reviewer:
        raise PermissionDenied("Only operators and the project's reviewers review problem sets.")
    elif ps.author_id == access.actor.id:
        raise PermissionDenied("Nobody reviews their own problem set; another reviewer must.")
    if version is not None and version != ps.version:
        raise Conflict(
            "This problem set was changed elsewhere; reload it.",
            details={"current_version": ps.version},
        )
    if ps.status not in sources:
        raise Conflict(
            f"A problem set that is {ps.status.value.replace('_', ' ')} cannot be {_past(action)}.",
            details={"status": ps.status.value},
        )
    comment = comment.strip()
    if action == Action.submit:
        missing = unfinished_steps(session=session, problem_set=ps)
        if missing is None:
            raise ValidationFailed("Add at least one step before submitting.")
        if missing:
            raise ValidationFailed(
                RULE + " Not done yet: " + ", ".join(missing) + ".",
                details={"unfinished": missing},
            )
        ps.submitted_at = utcnow()
    if action == Action.return_:
        if not comment:
            raise ValidationFailed("Say what to change when returning a problem set.")
        if len(comment) > 20_000:
            raise ValidationFailed("The comment is longer than 20,000 characters.")
    if action in (Action.accept, Action.return_):
        ps.review_comment = comment
        ps.reviewed_by_id = access.actor.id
    if action == Action.accept:
        ps.accepted_at = utcnow()
    before = ps.status
    ps.status = target
    ps.updated_at = utcnow()
    session.flush()
    emit(
        events.ProblemSetTransitioned(
            actor_user_id=access.actor.id,
            organisation_id=access.project.organisation_id,
            subject_type="problem_set",
            subject_id=str(ps.id),
            action=action.value,
            from_status=before.value,
            to_status=target.value,
            comment=comment[:2000],
        ),
        session=session,
    )
    return ps


def begin_work(*, session: Session, loaded: Loaded) -> None:
    """Working on a draft or returned problem set moves it into progress (audited like the rest).

    The audit action is ``start`` from a draft and ``resume`` from a returned problem set.
    """
    ps = loaded.problem_set
    if ps.status not in (Status.draft, Status.returned):
        return
    before = ps.status
    ps.status = Status.in_progress
    ps.updated_at = utcnow()
    session.flush()
    emit(
        events.ProblemSetTransitioned(
            actor_user_id=loaded.access.actor.id,
            organisation_id=loaded.access.project.organisation_id,
            subject_type="problem_set",
            subject_id=str(ps.id),
            action=Action.start.value if before == Status.draft else "resume",
            from_status=before.value,
            to_status=Status.in_progress.value,
        ),
        session=session,
    )


def _past(action: Action) -> str:
    return {
        Action.start: "started",
        Action.submit: "submitted",
        Action.start_review: "taken into review",
        Action.accept: "accepted",
        Action.return_: "returned",
    }[action]
