"""Steps of a problem set: add, reorder, autosave the working draft, cut immutable revisions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.errors import Conflict, ValidationFailed
from expertloop.events import emit
from expertloop.types import utcnow
from expertloop.workbench import events
from expertloop.workbench.access import Loaded
from expertloop.workbench.models import Annotation, Step, StepRevision, StepRun
from expertloop.workbench.progress import latest_revisions
from expertloop.workbench.status import begin_work

MAX_STEPS = 200
MAX_PROMPT = 100_000
MAX_CRITERIA = 50


def _event_base(loaded: Loaded, subject_type: str, subject_id: int) -> dict[str, Any]:
    return {
        "actor_user_id": loaded.access.actor.id,
        "organisation_id": loaded.access.project.organisation_id,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
    }


def clean_rubric(rubric: list[str] | None) -> list[str]:
    """Drop empty criteria, trim the rest, and bound their number and length."""
    criteria = [str(c).strip() for c in (rubric or []) if str(c).strip()]
    if len(criteria) > MAX_CRITERIA:
        raise ValidationFailed(f"A step has at most {MAX_CRITERIA} rubric criteria.")
    if any(len(c) > 2000 for c in criteria):
        raise ValidationFailed("A rubric criterion is at most 2,000 characters.")
    return criteria


def snapshot(step: Step) -> dict[str, Any]:
    """Return the draft's fields and version, as a stale save's 409 reports them."""
    return {
        "version": step.version,
        "title": step.title,
        "chain": step.chain,
        "draft_prompt": step.draft_prompt,
        "draft_rubric": list(step.draft_rubric),
        "draft_reference": step.draft_reference,
    }


def add(
    *,
    session: Session,
    loaded: Loaded,
    title: str = "",
    prompt: str = "",
    rubric: list[str] | None = None,
    reference: str = "",
    parent_id: int | None = None,
    chain: bool = False,
) -> Step:
    """Append a step (or a sub-step); with a prompt, its first revision is cut at once."""
    loaded.require_edit()
    ps = loaded.problem_set
    count = session.scalar(select(func.count(Step.id)).where(Step.problem_set_id == ps.id)) or 0
    if count >= MAX_STEPS:
        raise ValidationFailed(f"A problem set has at most {MAX_STEPS} steps.")
    if parent_id is not None:
        parent = session.get(Step, parent_id)
        if parent is None or parent.problem_set_id != ps.id:
            raise ValidationFailed("The parent step is not in this problem set.")
        if parent.parent_id is not None:
            raise ValidationFailed("Sub-steps go one level deep.")
    if len(prompt) > MAX_PROMPT or len(reference) > MAX_PROMPT:
        raise ValidationFailed(f"Prompt and reference are at most {MAX_PROMPT} characters each.")
    siblings = session.scalar(
        select(func.max(Step.position)).where(
            Step.problem_set_id == ps.id,
            Step.parent_id.is_(None) if parent_id is None else Step.parent_id == parent_id,
        )
    )
    step = Step(
        problem_set_id=ps.id,
        parent_id=parent_id,
        position=(siblings or 0) + 1,
        title=title.strip()[:300],
        chain=chain,
        draft_prompt=prompt,
        draft_rubric=clean_rubric(rubric),
        draft_reference=reference,
    )
    session.add(step)
    session.flush()
    emit(
        events.StepAdded(
            **_event_base(loaded, "step", step.id), problem_set_id=ps.id, parent_id=parent_id
        ),
        session=session,
    )
    if prompt.strip():
        revise(session=session, loaded=loaded, step=step, reason="First version")
    touch(session, loaded)
    return step


def touch(session: Session, loaded: Loaded) -> None:
    """Working on a step moves a fresh or returned problem set into progress (audited)."""
    begin_work(session=session, loaded=loaded)


def update_draft(
    *, session: Session, loaded: Loaded, step: Step, version: int, changes: dict[str, Any]
) -> Step:
    """Autosave the step's working draft when ``version`` is current (else 409 with both)."""
    loaded.require_edit()
    if version != step.version:
        raise Conflict(
            "This step was changed elsewhere (another tab or person); "
            "compare both versions and save again.",
            details={"current_version": step.version, "current": snapshot(step)},
        )
    if changes.get("title") is not None:
        step.title = str(changes["title"]).strip()[:300]
    if changes.get("chain") is not None:
        step.chain = bool(changes["chain"])
    for key in ("draft_prompt", "draft_reference"):
        if changes.get(key) is not None:
            value = str(changes[key])
            if len(value) > MAX_PROMPT:
                raise ValidationFailed(f"The text is longer than {MAX_PROMPT} characters.")
            setattr(step, key, value)
    if changes.get("draft_rubric") is not None:
        step.draft_rubric = clean_rubric(changes["draft_rubric"])
    step.updated_at = utcnow()
    session.flush()  # version_id_col refuses a concurrent winner (409)
    return step


def revise(
    *,
    session: Session,
    loaded: Loaded,
    step: Step,
    reason: str = "",
    motivated_by: list[int] | None = None,
) -> StepRevision:
    """Cut an immutable revision from the step's draft, linking the annotations behind it."""
    loaded.require_edit()
    prompt = step.draft_prompt
    if not prompt.strip():
        raise ValidationFailed("Write a prompt before saving a revision.")
    latest = latest_revisions(session=session, step_ids=[step.id]).get(step.id)
    rubric = clean_rubric(step.draft_rubric)
    if (
        latest is not None
        and latest.prompt == prompt
        and list(latest.rubric) == rubric
        and latest.reference == step.draft_reference
    ):
        raise ValidationFailed("Nothing changed since the last revision.")
    ids = sorted(set(motivated_by or []))
    if ids:
        found = set(
            session.scalars(
                select(Annotation.id)
                .join(StepRevision, StepRevision.id == Annotation.revision_id)
                .where(Annotation.id.in_(ids), StepRevision.step_id == step.id)
            )
        )
        if found != set(ids):
            raise ValidationFailed("The motivating annotations must belong to this step.")
    revision = StepRevision(
        step_id=step.id,
        number=(latest.number + 1) if latest else 1,
        prompt=prompt,
        rubric=rubric,
        reference=step.draft_reference,
        reason=reason.strip()[:5000],
        motivated_by=ids,
        author_id=loaded.access.actor.id,
    )
    session.add(revision)
    session.flush()  # (step_id, number) is unique: a concurrent revision gets 409
    emit(
        events.StepRevised(
            **_event_base(loaded, "step", step.id),
            step_id=step.id,
            number=revision.number,
            motivated_by=tuple(ids),
        ),
        session=session,
    )
    touch(session, loaded)
    return revision


def reorder(*, session: Session, loaded: Loaded, step_ids: list[int]) -> None:
    """Set the order of a group of sibling steps (all top-level steps, or one step's sub-steps)."""
    loaded.require_edit()
    if not step_ids or len(set(step_ids)) != len(step_ids):
        raise ValidationFailed("Give each step of the group once.")
    rows = {
        s.id: s
        for s in session.scalars(select(Step).where(Step.problem_set_id == loaded.problem_set.id))
    }
    if any(i not in rows for i in step_ids):
        raise ValidationFailed("Those steps are not all in this problem set.")
    parents = {rows[i].parent_id for i in step_ids}
    if len(parents) != 1:
        raise ValidationFailed("Reorder one group of sibling steps at a time.")
    (parent,) = parents
    group = {s.id for s in rows.values() if s.parent_id == parent}
    if group != set(step_ids):
        raise ValidationFailed("Give every step of the group, in its new order.")
    for position, step_id in enumerate(step_ids, start=1):
        rows[step_id].position = position
    session.flush()
    emit(
        events.StepsReordered(
            **_event_base(loaded, "problem_set", loaded.problem_set.id), step_ids=tuple(step_ids)
        ),
        session=session,
    )


def delete(*, session: Session, loaded: Loaded, step: Step) -> None:
    """Remove a step that was never run (a run is history and stays)."""
    loaded.require_edit()
    has_runs = session.scalar(
        select(StepRun.id)
        .join(StepRevision, StepRevision.id == StepRun.revision_id)
        .where(StepRevision.step_id == step.id)
        .limit(1)
    )
    has_children = session.scalar(select(Step.id).where(Step.parent_id == step.id).limit(1))
    if has_runs is not None:
        raise Conflict("This step has runs; its history is kept, so it cannot be deleted.")
    if has_children is not None:
        raise Conflict("Delete or move the sub-steps first.")
    session.delete(step)
    session.flush()
    emit(
        events.StepDeleted(
            **_event_base(loaded, "step", step.id), problem_set_id=loaded.problem_set.id
        ),
        session=session,
    )


def revisions_of(*, session: Session, step_id: int) -> list[StepRevision]:
    """Return the step's revisions, oldest first."""
    return list(
        session.scalars(
            select(StepRevision)
            .where(StepRevision.step_id == step_id)
            .order_by(StepRevision.number)
        )
    )
