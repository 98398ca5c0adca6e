"""Read model of a step's history: every revision with its runs, answers, scores and annotations.

The step page shows the newest revision open and the older ones collapsed; two revisions can be
compared side by side. One query per kind of row (revisions, runs, annotations, rubric results,
model names, the taxonomy), whatever the number of revisions: no query per revision or run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.errors import NotFound
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.workbench import diffs, taxonomy
from expertloop.workbench.diffs import Op
from expertloop.workbench.models import (
    Annotation,
    RubricResult,
    Side,
    Step,
    StepRevision,
    StepRun,
)
from expertloop.workbench.progress import passing_runs


def _pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    """Map the first column of two-column rows to the second."""
    return {k: v for k, v in rows}


@dataclass(frozen=True)
class AnnotationItem:
    """One located fault, as shown (read-only) in the history."""

    id: int
    side: str
    start: int | None
    end: int | None
    quote: str
    category: str
    category_label: str
    severity: str
    note: str


@dataclass(frozen=True)
class Segment:
    """A piece of a text and the annotations covering it (none: plain text)."""

    text: str
    annotation_ids: tuple[int, ...]
    severity: str | None
    title: str


@dataclass(frozen=True)
class Criterion:
    """A rubric criterion of the revision and whether this run met it (None: not scored)."""

    text: str
    met: bool | None


@dataclass(frozen=True)
class RunItem:
    """A run of a revision with its answer, rubric scores and annotations."""

    step_run_id: int
    endpoint_id: int
    model_name: str
    status: str
    answer: str
    error_reason: str | None
    latency_ms: float | None
    completion_tokens: int | None
    chained: bool
    passing: bool
    segments: tuple[Segment, ...]
    annotations: tuple[AnnotationItem, ...]
    criteria: tuple[Criterion, ...]

    @property
    def met(self) -> int:
        return sum(1 for c in self.criteria if c.met)


@dataclass(frozen=True)
class RevisionItem:
    """One revision (iteration) of the step: its prompt, why it changed, and what came of it."""

    id: int
    number: int
    prompt: str
    rubric: tuple[str, ...]
    reference: str
    reason: str
    motivated_by: tuple[int, ...]
    created_at_iso: str
    is_latest: bool
    prompt_segments: tuple[Segment, ...]
    prompt_annotations: tuple[AnnotationItem, ...]
    runs: tuple[RunItem, ...]
    # Word diff of the prompt from the previous revision (None for the first).
    prompt_diff: tuple[Op, ...] | None
    # Per model: the diff between its newest answer here and its newest on an earlier revision.
    answer_diffs: tuple[tuple[str, tuple[Op, ...]], ...]


@dataclass(frozen=True)
class StepHistory:
    """Every revision of a step, newest first."""

    step_id: int
    revisions: tuple[RevisionItem, ...]

    def by_number(self, number: int) -> RevisionItem:
        """Return the revision numbered ``number`` or raise ``NotFound``."""
        for rev in self.revisions:
            if rev.number == number:
                return rev
        raise NotFound(f"This step has no revision {number}.")


@dataclass(frozen=True)
class AnswerPair:
    """One model's newest answers on the two compared revisions (None: no answer there)."""

    model_name: str
    left: RunItem | None
    right: RunItem | None
    diff: tuple[Op, ...] | None


@dataclass(frozen=True)
class Comparison:
    """Two revisions side by side: prompts, their diff, and each model's answers."""

    left: RevisionItem
    right: RevisionItem
    prompt_diff: tuple[Op, ...]
    answers: tuple[AnswerPair, ...]


def segments(text: str, marks: list[AnnotationItem]) -> tuple[Segment, ...]:
    """Split text at every annotation boundary (code-point offsets, end exclusive)."""
    spans = [a for a in marks if a.start is not None and a.end is not None]
    cuts = {0, len(text)}
    for a in spans:
        cuts.update((a.start or 0, a.end or 0))
    points = sorted(c for c in cuts if 0 <= c <= len(text))
    out = []
    for left, right in pairwise(points):
        covering = [a for a in spans if (a.start or 0) <= left and right <= (a.end or 0)]
        out.append(
            Segment(
                text=text[left:right],
                annotation_ids=tuple(a.id for a in covering),
                severity=covering[-1].severity if covering else None,
                title="; ".join(f"{a.category_label} ({a.severity})" for a in covering),
            )
        )
    return tuple(out)


def _newest_answers(runs: tuple[RunItem, ...]) -> dict[int, RunItem]:
    """Map endpoint to its newest run with an answer (runs are oldest first)."""
    out: dict[int, RunItem] = {}
    for r in runs:
        if r.status == "ok" or r.answer:
            out[r.endpoint_id] = r
    return out


def history(*, session: Session, step: Step, project_id: int) -> StepHistory:
    """Return the step's revisions, newest first, each with its runs and annotations."""
    revisions = list(
        session.scalars(
            select(StepRevision)
            .where(StepRevision.step_id == step.id)
            .order_by(StepRevision.number)
        )
    )
    rev_ids = [r.id for r in revisions]
    run_rows = (
        session.execute(
            select(StepRun, ModelRun)
            .join(ModelRun, ModelRun.id == StepRun.model_run_id)
            .where(StepRun.revision_id.in_(rev_ids))
            .order_by(StepRun.id)
        ).all()
        if rev_ids
        else []
    )
    run_ids = [sr.id for sr, _run in run_rows]
    notes = (
        list(
            session.scalars(
                select(Annotation)
                .where(Annotation.revision_id.in_(rev_ids))
                .order_by(Annotation.id)
            )
        )
        if rev_ids
        else []
    )
    results: dict[int, dict[int, bool]] = {}
    if run_ids:
        for step_run_id, criterion, met in session.execute(
            select(RubricResult.step_run_id, RubricResult.criterion, RubricResult.met).where(
                RubricResult.step_run_id.in_(run_ids)
            )
        ):
            results.setdefault(step_run_id, {})[criterion] = met
    endpoint_ids = {sr.endpoint_id for sr, _run in run_rows}
    names = (
        _pairs(
            session.execute(
                select(ModelEndpoint.id, ModelEndpoint.name).where(
                    ModelEndpoint.id.in_(endpoint_ids)
                )
            )
        )
        if endpoint_ids
        else {}
    )
    labels = {
        c["key"]: c["label"]
        for c in taxonomy.current(session=session, project_id=project_id).categories
    }
    latest = revisions[-1] if revisions else None
    passing = passing_runs(session=session, revisions=[latest]) if latest else {}
    passing_id = passing.get(latest.id) if latest else None

    by_run: dict[int, list[AnnotationItem]] = {}
    on_prompt: dict[int, list[AnnotationItem]] = {}
    for a in notes:
        item = AnnotationItem(
            id=a.id,
            side=a.side.value,
            start=a.start,
            end=a.end,
            quote=a.quote,
            category=a.category,
            category_label=labels.get(a.category, a.category),
            severity=a.severity.value,
            note=a.note,
        )
        if a.step_run_id is not None and a.side == Side.response:
            by_run.setdefault(a.step_run_id, []).append(item)
        else:
            on_prompt.setdefault(a.revision_id, []).append(item)
    runs_of: dict[int, list[RunItem]] = {}
    rubric_of = {r.id: list(r.rubric) for r in revisions}
    for sr, run in run_rows:
        scored = results.get(sr.id, {})
        marks = by_run.get(sr.id, [])
        runs_of.setdefault(sr.revision_id, []).append(
            RunItem(
                step_run_id=sr.id,
                endpoint_id=sr.endpoint_id,
                model_name=names.get(sr.endpoint_id, run.model_id),
                status=run.status,
                answer=run.answer,
                error_reason=run.error_reason,
                latency_ms=run.latency_ms,
                completion_tokens=run.completion_tokens,
                chained=sr.chained,
                passing=sr.id == passing_id,
                segments=segments(run.answer, marks),
                annotations=tuple(marks),
                criteria=tuple(
                    Criterion(text=c, met=scored.get(i))
                    for i, c in enumerate(rubric_of.get(sr.revision_id, []))
                ),
            )
        )
    items: list[RevisionItem] = []
    last_answer: dict[int, str] = {}
    previous: StepRevision | None = None
    for rev in revisions:
        runs = tuple(runs_of.get(rev.id, []))
        here = {eid: r.answer for eid, r in _newest_answers(runs).items()}
        marks = on_prompt.get(rev.id, [])
        items.append(
            RevisionItem(
                id=rev.id,
                number=rev.number,
                prompt=rev.prompt,
                rubric=tuple(rev.rubric),
                reference=rev.reference,
                reason=rev.reason,
                motivated_by=tuple(rev.motivated_by),
                created_at_iso=rev.created_at.isoformat(),
                is_latest=rev is latest,
                prompt_segments=segments(rev.prompt, marks),
                prompt_annotations=tuple(marks),
                runs=runs,
                prompt_diff=(
                    tuple(diffs.diff_words(previous.prompt, rev.prompt)) if previous else None
                ),
                answer_diffs=tuple(
                    (names.get(eid, f"model {eid}"), tuple(diffs.diff_words(last_answer[eid], t)))
                    for eid, t in here.items()
                    if eid in last_answer
                ),
            )
        )
        last_answer.update(here)
        previous = rev
    items.reverse()
    return StepHistory(step_id=step.id, revisions=tuple(items))


def compare(hist: StepHistory, left_number: int, right_number: int) -> Comparison:
    """Put two revisions side by side: prompt diff, and per model its newest answer on each."""
    left, right = hist.by_number(left_number), hist.by_number(right_number)
    mine, theirs = _newest_answers(left.runs), _newest_answers(right.runs)
    pairs = []
    for eid in list(dict.fromkeys([*mine, *theirs])):
        a, b = mine.get(eid), theirs.get(eid)
        shown = a or b
        pairs.append(
            AnswerPair(
                model_name=shown.model_name if shown else "",
                left=a,
                right=b,
                diff=tuple(diffs.diff_words(a.answer, b.answer)) if a and b else None,
            )
        )
    return Comparison(
        left=left,
        right=right,
        prompt_diff=tuple(diffs.diff_words(left.prompt, right.prompt)),
        answers=tuple(pairs),
    )
