"""Where each step stands: the outline (1, 1.1, 2 …) and passing / ideal-answer state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol, TypeVar

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
    # At least one finished ("ok") run of the newest revision: an ideal answer only counts for a
    # prompt that was tried on a model, or the data holds no evidence of what the model does.
    final_run: bool

    @property
    def passing(self) -> bool:
        return self.passing_step_run_id is not None

    @property
    def done(self) -> bool:
        return self.passing or (self.has_ideal and self.final_run)

    @property
    def label(self) -> str:
        if self.passing:
            return "passing"
        if self.has_ideal:
            return "ideal answer" if self.final_run else "ideal answer, not run"
        if self.revision_number is None:
            return "no prompt yet"
        return "not passing"

    @property
    def missing(self) -> str:
        """Say what the step still lacks to count as done ("" when done)."""
        if self.done:
            return ""
        if self.revision_number is None:
            return "no prompt yet"
        if not self.final_run:
            return f"revision {self.revision_number} has not been run"
        return f"no run of revision {self.revision_number} passes and there is no ideal answer"


RULE = (
    "A step is done when a run of its final revision passes (every rubric criterion met, no "
    "major or critical fault), or when it has an ideal answer and its final revision was run "
    "at least once."
)


class Node(Protocol):
    """What ordering needs of a step (a ``Step`` row, or any row with these columns)."""

    @property
    def id(self) -> int: ...
    @property
    def parent_id(self) -> int | None: ...
    @property
    def position(self) -> int: ...


N = TypeVar("N", bound=Node)


def _place(step: Node) -> tuple[int, int]:
    return step.position, step.id


def outline(steps: Sequence[N]) -> list[tuple[str, N]]:
    """Order steps as the problem set reads (parents, then their sub-steps) with their numbers."""
    if len(steps) == 1 and steps[0].parent_id is None:
        return [("1", steps[0])]
    if all(s.parent_id is None for s in steps):
        # No sub-steps (most problem sets; an export orders millions): one sort, numbers 1, 2, …
        flat = sorted(steps, key=_place)
        return [(str(i), s) for i, s in enumerate(flat, start=1)]
    children: dict[int | None, list[N]] = {}
    for s in steps:
        children.setdefault(s.parent_id, []).append(s)
    for group in children.values():
        group.sort(key=_place)
    result: list[tuple[str, N]] = []

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
    sizes = {r.id: len(r.rubric) for r in revisions if r.rubric}
    if not sizes:
        return {}
    runs = session.execute(
        select(StepRun.id, StepRun.revision_id)
        .join(ModelRun, ModelRun.id == StepRun.model_run_id)
        .where(StepRun.revision_id.in_(list(sizes)), ModelRun.status == "ok")
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
    return choose_passing(sizes, [(r.id, r.revision_id) for r in runs], met, faulty)


def choose_passing(
    rubric_sizes: dict[int, int],
    finished: Iterable[tuple[int, int]],
    met: dict[int, set[int]],
    faulty: AbstractSet[int | None],
) -> dict[int, int]:
    """Apply the passing rule to loaded rows: map revision id to its newest passing step run.

    ``rubric_sizes``: revision id -> number of criteria (a revision without any never passes);
    ``finished``: (step run id, revision id) of the runs whose status is "ok", newest first;
    ``met``: step run id -> criteria it meets; ``faulty``: step runs with a major or critical
    fault. Readers that load these rows themselves (delivery) call this, not a copy of it.
    """
    result_map: dict[int, int] = {}
    for run_id, revision_id in finished:
        size = rubric_sizes.get(revision_id)
        if not size or revision_id in result_map:
            continue
        if run_id not in faulty and set(range(size)) <= met.get(run_id, set()):
            result_map[revision_id] = run_id
    return result_map


def finished_revisions(*, session: Session, revision_ids: list[int]) -> set[int]:
    """Return the revisions among these with at least one finished ("ok") run."""
    if not revision_ids:
        return set()
    return set(
        session.scalars(
            select(StepRun.revision_id)
            .join(ModelRun, ModelRun.id == StepRun.model_run_id)
            .where(StepRun.revision_id.in_(revision_ids), ModelRun.status == "ok")
            .distinct()
        )
    )


def has_ideal(text: str | None) -> bool:
    """Tell whether an ideal answer counts: a blank one is no answer."""
    return text is not None and bool(text.strip())


def step_states(*, session: Session, steps: list[Step]) -> dict[int, StepState]:
    """Return the state of each step."""
    ids = [s.id for s in steps]
    latest = latest_revisions(session=session, step_ids=ids)
    passing = passing_runs(session=session, revisions=list(latest.values()))
    ran = finished_revisions(session=session, revision_ids=[r.id for r in latest.values()])
    # A blank ideal answer is no answer (chain mode, runs._answer_of, skips it the same way).
    ideal = (
        {
            step_id
            for step_id, text in session.execute(
                select(IdealAnswer.step_id, IdealAnswer.text).where(IdealAnswer.step_id.in_(ids))
            )
            if has_ideal(text)
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
            final_run=rev is not None and rev.id in ran,
        )
    return states


def unfinished_steps(*, session: Session, problem_set: ProblemSet) -> list[str] | None:
    """Return the steps not done (RULE), each with what it lacks (None: no steps)."""
    rows = list(session.scalars(select(Step).where(Step.problem_set_id == problem_set.id)))
    if not rows:
        return None
    states = step_states(session=session, steps=rows)
    return [f"step {n} ({states[s.id].missing})" for n, s in outline(rows) if not states[s.id].done]
