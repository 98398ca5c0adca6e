"""Returns and resubmissions: record each step's state at a return; show what changed since.

A return is a status transition of the workbench (audited there). The prompt at a return could be
read back from the immutable revisions by time, but the ideal answer is edited in place and keeps
no history, so both are copied here when the problem set is returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.events import emit
from expertloop.review import events, policies
from expertloop.review.models import ReturnedStep, ReviewReturn
from expertloop.workbench import diffs, progress, status
from expertloop.workbench.access import Loaded
from expertloop.workbench.diffs import Op
from expertloop.workbench.models import IdealAnswer, ProblemSet, Status


def _pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    """Map the first column of two-column rows to the second."""
    return {k: v for k, v in rows}


def transition(
    *,
    session: Session,
    loaded: Loaded,
    action: status.Action,
    comment: str = "",
    version: int | None = None,
) -> ProblemSet:
    """Apply a status action; a return also records what each step was at that moment."""
    ps = status.transition(
        session=session, loaded=loaded, action=action, comment=comment, version=version
    )
    if action == status.Action.return_:
        record_return(session=session, loaded=loaded, comment=comment)
    return ps


def _current(
    session: Session, problem_set_id: int
) -> list[tuple[str, int, str, int | None, str, str | None]]:
    """Return (number, step id, title, revision number, prompt, ideal text) of each step now."""
    numbered = progress.numbered(session=session, problem_set_id=problem_set_id)
    ids = [s.id for _n, s in numbered]
    latest = progress.latest_revisions(session=session, step_ids=ids)
    ideal = (
        _pairs(
            session.execute(
                select(IdealAnswer.step_id, IdealAnswer.text).where(IdealAnswer.step_id.in_(ids))
            )
        )
        if ids
        else {}
    )
    out = []
    for number, s in numbered:
        rev = latest.get(s.id)
        out.append(
            (
                number,
                s.id,
                s.title,
                rev.number if rev else None,
                rev.prompt if rev else "",
                ideal.get(s.id),
            )
        )
    return out


def record_return(*, session: Session, loaded: Loaded, comment: str = "") -> ReviewReturn:
    """Copy each step's newest prompt and ideal answer as they are at this return."""
    ps = loaded.problem_set
    row = ReviewReturn(
        problem_set_id=ps.id, reviewer_id=loaded.access.actor.id, comment=comment.strip()
    )
    session.add(row)
    session.flush()
    steps = _current(session, ps.id)
    session.add_all(
        ReturnedStep(
            return_id=row.id,
            step_id=step_id,
            step_title=title,
            revision_number=rev_number,
            prompt=prompt,
            ideal_text=ideal,
        )
        for _number, step_id, title, rev_number, prompt, ideal in steps
    )
    session.flush()
    emit(
        events.ReturnRecorded(
            actor_user_id=loaded.access.actor.id,
            organisation_id=loaded.access.project.organisation_id,
            subject_type="problem_set",
            subject_id=str(ps.id),
            problem_set_id=ps.id,
            steps=len(steps),
        ),
        session=session,
    )
    return row


@dataclass(frozen=True)
class StepChange:
    """One step then (at the return) and now: word diffs of its prompt and its ideal answer."""

    step_id: int
    number: str  # "" when the step was deleted since
    title: str
    kind: str  # "changed", "unchanged", "added" or "removed"
    revision_then: int | None
    revision_now: int | None
    prompt_diff: tuple[Op, ...]
    ideal_diff: tuple[Op, ...]
    prompt_changed: bool
    ideal_changed: bool


@dataclass(frozen=True)
class SinceReturn:
    """What changed in a problem set since its latest return, step by step."""

    problem_set_id: int
    returned_at: dt.datetime
    reviewer_id: int
    comment: str
    steps: tuple[StepChange, ...]

    @property
    def changed(self) -> int:
        return sum(1 for s in self.steps if s.kind != "unchanged")


def since_return(*, session: Session, loaded: Loaded) -> SinceReturn | None:
    """Return the changes since the latest return, for a reviewer of resubmitted work.

    None when the actor is no reviewer, the problem set was never returned, or it has not been
    submitted again since.
    """
    ps = loaded.problem_set
    if not policies.sees_since_return(loaded.access):
        return None
    if ps.status not in (Status.submitted, Status.in_review, Status.accepted):
        return None
    ret = session.scalar(
        select(ReviewReturn)
        .where(ReviewReturn.problem_set_id == ps.id)
        .order_by(ReviewReturn.id.desc())
        .limit(1)
    )
    if ret is None:
        return None
    then = {
        r.step_id: r
        for r in session.scalars(select(ReturnedStep).where(ReturnedStep.return_id == ret.id))
    }
    changes = []
    for number, step_id, title, rev_number, prompt, ideal in _current(session, ps.id):
        old = then.pop(step_id, None)
        before_prompt = old.prompt if old else ""
        before_ideal = (old.ideal_text or "") if old else ""
        now_ideal = ideal or ""
        prompt_changed = before_prompt != prompt
        ideal_changed = before_ideal != now_ideal
        if old is None:
            kind = "added"
        else:
            kind = "changed" if prompt_changed or ideal_changed else "unchanged"
        changes.append(
            StepChange(
                step_id=step_id,
                number=number,
                title=title,
                kind=kind,
                revision_then=old.revision_number if old else None,
                revision_now=rev_number,
                prompt_diff=tuple(diffs.diff_words(before_prompt, prompt)),
                ideal_diff=tuple(diffs.diff_words(before_ideal, now_ideal)),
                prompt_changed=prompt_changed,
                ideal_changed=ideal_changed,
            )
        )
    for old in then.values():
        changes.append(
            StepChange(
                step_id=old.step_id,
                number="",
                title=old.step_title,
                kind="removed",
                revision_then=old.revision_number,
                revision_now=None,
                prompt_diff=tuple(diffs.diff_words(old.prompt, "")),
                ideal_diff=tuple(diffs.diff_words(old.ideal_text or "", "")),
                prompt_changed=bool(old.prompt),
                ideal_changed=bool(old.ideal_text),
            )
        )
    return SinceReturn(
        problem_set_id=ps.id,
        returned_at=ret.returned_at,
        reviewer_id=ret.reviewer_id,
        comment=ret.comment,
        steps=tuple(changes),
    )
