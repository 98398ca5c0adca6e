"""Where each step stands: the outline (1, 1.1, 2 …) and passing / ideal-answer state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.llm.models import ModelRun
from expertloop.workbench.models import (
    Annotation,
    IdealAnswer,
    ProblemSet,
    RubricResult,
    Severity,
    Step,
    StepRevision,
    StepRun,
)

BLOCKING = (Severity.major, Severity.critical)


@dataclass(frozen=True)
class StepState:
    """A step's standing on its newest revision."""

    revision_number: int | None
    passing_step_run_id: int | None
    has_ideal: bool

    @property
    def passing(self) -> bool:
        return self.passing_step_run_id is not None

    @property
    def done(self) -> bool:
        return self.passing or self.has_ideal

    @property
    def label(self) -> str:
        if self.passing:
            return "passing"
        if self.has_ideal:
            return "ideal answer"
        if self.revision_number is None:
            return "no prompt yet"
        return "not passing"


def outline(steps: list[Step]) -> list[tuple[str, Step]]:
    """Order steps as the problem set reads (parents, then their sub-steps) with their numbers."""
    children: dict[int | None, list[Step]] = {}
    for s in steps:
        children.setdefault(s.parent_id, []).append(s)
    for group in children.values():
        group.sort(key=lambda s: (s.position, s.id))
    result: list[tuple[str, Step]] = []

    def walk(parent: int | None, prefix: str) -> None:
        for index, s in enumerate(children.get(parent, []), start=1):
            number = f"{prefix}{index}"
            result.append((number, s))
            walk(s.id, number + ".")

    walk(None, "")
    return result


def numbered(*, session: Session, problem_set_id: int) -> list[tuple[str, Step]]:
    """Return the problem set's steps in outline order with their numbers."""
    rows = list(session.scalars(select(Step).where(Step.problem_set_id == problem_set_id)))
    return outline(rows)


def latest_revisions(*, session: Session, step_ids: list[int]) -> dict[int, StepRevision]:
    """Return each step's newest revision."""
    if not step_ids:
        return {}
    latest: dict[int, StepRevision] = {}
    for rev in session.scalars(
        select(StepRevision).where(StepRevision.step_id.in_(step_ids)).order_by(StepRevision.number)
    ):
        latest[rev.step_id] = rev
    return latest


def passing_runs(*, session: Session, revisions: list[StepRevision]) -> dict[int, int]:
    """Map revision id to its newest passing step run: ok, every criterion met, no major fault.

    The newest, so that chain mode carries the answer the expert most recently checked.
    """
    by_id = {r.id: r for r in revisions if r.rubric}
    if not by_id:
        return {}
    runs = session.execute(
        select(StepRun.id, StepRun.revision_id)
        .join(ModelRun, ModelRun.id == StepRun.model_run_id)
        .where(StepRun.revision_id.in_(list(by_id)), ModelRun.status == "ok")
        .order_by(StepRun.id.desc())
    ).all()
    run_ids = [r.id for r in runs]
    if not run_ids:
        return {}
    met: dict[int, set[int]] = {}
    for result in session.scalars(
        select(RubricResult).where(
            RubricResult.step_run_id.in_(run_ids), RubricResult.met.is_(True)
        )
    ):
        met.setdefault(result.step_run_id, set()).add(result.criterion)
    faulty = set(
        session.scalars(
            select(Annotation.step_run_id).where(
                Annotation.step_run_id.in_(run_ids), Annotation.severity.in_(BLOCKING)
            )
        )
    )
    result_map: dict[int, int] = {}
    for run_id, revision_id in runs:
        needed = set(range(len(by_id[revision_id].rubric)))
        if run_id not in faulty and needed <= met.get(run_id, set()):
            result_map.setdefault(revision_id, run_id)
    return result_map


def step_states(*, session: Session, steps: list[Step]) -> dict[int, StepState]:
    """Return the state of each step."""
    ids = [s.id for s in steps]
    latest = latest_revisions(session=session, step_ids=ids)
    passing = passing_runs(session=session, revisions=list(latest.values()))
    # A blank ideal answer is no answer (chain mode, runs._answer_of, skips it the same way).
    ideal = (
        {
            step_id
            for step_id, text in session.execute(
                select(IdealAnswer.step_id, IdealAnswer.text).where(IdealAnswer.step_id.in_(ids))
            )
            if text.strip()
        }
        if ids
        else set()
    )
    states = {}
    for s in steps:
        rev = latest.get(s.id)
        states[s.id] = StepState(
            revision_number=rev.number if rev else None,
            passing_step_run_id=passing.get(rev.id) if rev else None,
            has_ideal=s.id in ideal,
        )
    return states


def unfinished_steps(*, session: Session, problem_set: ProblemSet) -> list[str] | None:
    """Return the numbers of steps neither passing nor with an ideal answer (None: no steps)."""
    rows = list(session.scalars(select(Step).where(Step.problem_set_id == problem_set.id)))
    if not rows:
        return None
    states = step_states(session=session, steps=rows)
    return [f"step {n}" for n, s in outline(rows) if not states[s.id].done]
