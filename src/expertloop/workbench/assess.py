"""Locate faults (annotations), score answers against the rubric, write the ideal answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.errors import Conflict, ValidationFailed
from expertloop.events import emit
from expertloop.llm.models import ModelRun
from expertloop.types import utcnow
from expertloop.workbench import diffs, events, taxonomy
from expertloop.workbench.access import Loaded, ideal_answer
from expertloop.workbench.models import (
    Annotation,
    IdealAnswer,
    RubricResult,
    Severity,
    Side,
    Step,
    StepRevision,
    StepRun,
)

MAX_NOTE = 10_000
MAX_IDEAL = 200_000


def _base(loaded: Loaded, subject_type: str, subject_id: int) -> dict[str, Any]:
    return {
        "actor_user_id": loaded.access.actor.id,
        "organisation_id": loaded.access.project.organisation_id,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
    }


def add(
    *,
    session: Session,
    loaded: Loaded,
    revision: StepRevision,
    category: str,
    severity: str,
    note: str = "",
    step_run: StepRun | None = None,
    start: int | None = None,
    end: int | None = None,
    quote: str | None = None,
) -> Annotation:
    """Annotate a span of a run's answer, or (without a run) the revision's prompt.

    Offsets are code points (Python ``str`` indices), end exclusive. When ``quote`` is given it
    must equal the text at the offsets, so a page that counted differently is caught, not stored.
    """
    loaded.require_edit()
    try:
        level = Severity(severity)
    except ValueError:
        raise ValidationFailed("Severity must be minor, major or critical.") from None
    side = Side.response if step_run is not None else Side.prompt
    cats = taxonomy.current(session=session, project_id=loaded.access.project.id)
    found = cats.get(category)
    if found is None:
        raise ValidationFailed(f"Unknown category {category!r} for this project.")
    if found["side"] != side.value:
        where = "an answer" if side == Side.response else "a prompt"
        raise ValidationFailed(f"{found['label']} is not a category for {where}.")
    if len(note) > MAX_NOTE:
        raise ValidationFailed(f"The note is longer than {MAX_NOTE} characters.")
    if step_run is not None:
        run = session.get(ModelRun, step_run.model_run_id)
        text = run.answer if run is not None else ""
    else:
        text = revision.prompt
    if (start is None) != (end is None):
        raise ValidationFailed("Give both start and end, or neither.")
    if start is None or end is None:
        if side == Side.response:
            raise ValidationFailed("Select the part of the answer the fault is in.")
        span = ""
    else:
        if not 0 <= start < end <= len(text):
            raise ValidationFailed(
                f"The span {start}-{end} is outside the text (0-{len(text)}), or empty."
            )
        span = text[start:end]
        if quote is not None and quote != span:
            raise ValidationFailed(
                "The selected text does not match the offsets; reload the page and select again."
            )
    row = Annotation(
        revision_id=revision.id,
        step_run_id=step_run.id if step_run is not None else None,
        side=side,
        start=start,
        end=end,
        quote=span,
        category=category,
        taxonomy_version=cats.version,
        severity=level,
        note=note.strip(),
        author_id=loaded.access.actor.id,
    )
    session.add(row)
    session.flush()
    emit(
        events.AnnotationAdded(
            **_base(loaded, "annotation", row.id),
            revision_id=revision.id,
            step_run_id=row.step_run_id,
            category=category,
            severity=level.value,
        ),
        session=session,
    )
    return row


def delete(*, session: Session, loaded: Loaded, annotation: Annotation) -> None:
    """Remove an annotation that no revision cites as its motivation."""
    loaded.require_edit()
    cited = session.scalars(
        select(StepRevision.motivated_by)
        .join(Step, Step.id == StepRevision.step_id)
        .where(Step.problem_set_id == loaded.problem_set.id)
    )
    if any(annotation.id in (ids or []) for ids in cited):
        raise Conflict("A revision cites this annotation as its motivation; it stays.")
    session.delete(annotation)
    session.flush()
    emit(
        events.AnnotationDeleted(
            **_base(loaded, "annotation", annotation.id),
            revision_id=annotation.revision_id,
        ),
        session=session,
    )


def for_revisions(*, session: Session, revision_ids: list[int]) -> list[Annotation]:
    """Return the annotations of these revisions, in the order they were made."""
    if not revision_ids:
        return []
    return list(
        session.scalars(
            select(Annotation)
            .where(Annotation.revision_id.in_(revision_ids))
            .order_by(Annotation.id)
        )
    )


def score(
    *,
    session: Session,
    loaded: Loaded,
    revision: StepRevision,
    step_run: StepRun,
    criterion: int,
    met: bool,
) -> RubricResult:
    """Record whether a run's answer meets one of its revision's criteria (last word wins)."""
    loaded.require_edit()
    if not 0 <= criterion < len(revision.rubric):
        raise ValidationFailed(
            f"Criterion {criterion} does not exist; this revision has {len(revision.rubric)}."
        )
    row = session.scalar(
        select(RubricResult).where(
            RubricResult.step_run_id == step_run.id, RubricResult.criterion == criterion
        )
    )
    if row is None:
        row = RubricResult(
            step_run_id=step_run.id, criterion=criterion, met=met, by_id=loaded.access.actor.id
        )
        session.add(row)
    else:
        row.met, row.by_id, row.at = met, loaded.access.actor.id, utcnow()
    session.flush()
    emit(
        events.RubricScored(
            **_base(loaded, "step_run", step_run.id),
            step_run_id=step_run.id,
            criterion=criterion,
            met=met,
        ),
        session=session,
    )
    return row


def results_for(*, session: Session, step_run_ids: list[int]) -> dict[int, dict[int, bool]]:
    """Map step run id to {criterion: met}."""
    if not step_run_ids:
        return {}
    out: dict[int, dict[int, bool]] = {}
    for r in session.scalars(
        select(RubricResult).where(RubricResult.step_run_id.in_(step_run_ids))
    ):
        out.setdefault(r.step_run_id, {})[r.criterion] = r.met
    return out


def save_ideal(
    *,
    session: Session,
    loaded: Loaded,
    step: Step,
    text: str,
    version: int | None,
    based_on: StepRun | None = None,
    revision: StepRevision | None = None,
) -> IdealAnswer:
    """Create or update the step's ideal answer; keep its diff to the model answer it began as.

    ``version`` is None to create; updating needs the current version (else 409 with both).
    """
    loaded.require_edit()
    if len(text) > MAX_IDEAL:
        raise ValidationFailed(f"The ideal answer is longer than {MAX_IDEAL} characters.")
    row = ideal_answer(session=session, step_id=step.id)
    if row is None:
        if version not in (None, 0):
            raise Conflict(
                "The ideal answer was removed or never saved; reload the page.",
                details={"current_version": 0, "current": None},
            )
        row = IdealAnswer(
            step_id=step.id,
            revision_id=revision.id if revision else None,
            based_on_step_run_id=based_on.id if based_on else None,
            text=text,
            author_id=loaded.access.actor.id,
        )
        session.add(row)
        created = True
    else:
        if version != row.version:
            raise Conflict(
                "The ideal answer was changed elsewhere (another tab or person); "
                "compare both versions and save again.",
                details={
                    "current_version": row.version,
                    "current": {"version": row.version, "text": row.text},
                },
            )
        row.text = text
        if based_on is not None:  # started over from another model answer
            row.based_on_step_run_id = based_on.id
        if revision is not None:
            row.revision_id = revision.id
        row.updated_at = utcnow()
        created = False
    base_text = ""
    if row.based_on_step_run_id is not None:
        # No autoflush: a new row is inserted once, with its diff (version 1, not 2).
        with session.no_autoflush:
            source = session.get(StepRun, row.based_on_step_run_id)
            run = session.get(ModelRun, source.model_run_id) if source else None
        base_text = run.answer if run else ""
    row.diff = [list(op) for op in diffs.diff_words(base_text, text)]
    session.flush()
    if created:
        emit(
            events.IdealAnswerStarted(
                **_base(loaded, "step", step.id),
                step_id=step.id,
                based_on_step_run_id=row.based_on_step_run_id,
            ),
            session=session,
        )
    return row
