"""The delivery read model: a project's accepted problem sets with their whole history, streamed.

This is the only place that reads workbench tables for exports. Problem sets come in id order,
a chunk at a time; each chunk's steps, revisions, runs, rubric results, annotations and ideal
answers are loaded with one IN query each, so memory stays flat however many there are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from expertloop.errors import ValidationFailed
from expertloop.workbench import diffs, progress, taxonomy
from expertloop.workbench import lineage_rows as rows
from expertloop.workbench.models import (
    Persona,
    ProblemSet,
    Severity,
    Side,
    Taxonomy,
)
from expertloop.workbench.runs import chain_answer, chain_messages

CHUNK = 200
_Row = rows.Row


@dataclass(frozen=True)
class LineageFilters:
    """Which accepted problem sets (and which of their runs) an export takes."""

    domain: str | None = None
    accepted_from: dt.date | None = None  # inclusive, UTC
    accepted_to: dt.date | None = None  # inclusive, UTC
    endpoint_ids: tuple[int, ...] | None = None  # keep only runs of these target models


@dataclass(frozen=True)
class AnnotationLine:
    """A located fault: on a run's answer (side "response") or on a revision's prompt."""

    id: int
    revision_id: int
    step_run_id: int | None
    side: str
    start: int | None
    end: int | None
    quote: str
    category: str
    category_label: str
    severity: str
    note: str
    taxonomy_version: int
    author_id: int
    created_at: dt.datetime


@dataclass(frozen=True)
class CriterionResult:
    """One rubric criterion of a run's revision and whether the answer met it (None: unscored)."""

    index: int
    criterion: str
    met: bool | None


@dataclass(frozen=True)
class RunLine:
    """A model run of a revision, with what it was sent and how it was judged."""

    step_run_id: int
    endpoint_id: int
    endpoint_name: str
    provider: str
    model_id: str
    status: str
    answer: str
    finish_reason: str | None
    params: dict[str, Any]
    system_prompt: str | None
    messages: tuple[dict[str, str], ...]
    chained: bool
    created_at: dt.datetime
    rubric: tuple[CriterionResult, ...]
    annotations: tuple[AnnotationLine, ...]
    passing: bool  # the run that makes its revision pass (progress.passing_runs)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class RevisionLine:
    """An immutable version of a step and everything that happened on it."""

    id: int
    number: int
    prompt: str
    rubric: tuple[str, ...]
    reference: str
    reason: str
    motivated_by: tuple[int, ...]
    author_id: int
    created_at: dt.datetime
    runs: tuple[RunLine, ...]  # oldest first; only the kept target models
    prompt_annotations: tuple[AnnotationLine, ...]
    # The annotations (of any earlier revision of the step) that this revision answers.
    motivating: tuple[AnnotationLine, ...]
    previous_prompt: str  # the previous revision's prompt ("" for the first)

    @property
    def prompt_diff(self) -> list[tuple[str, str]]:
        """Return the word diff from the previous revision's prompt (computed when asked)."""
        return diffs.diff_words(self.previous_prompt, self.prompt)


@dataclass(frozen=True)
class IdealLine:
    """The expert's corrected answer, with its word diff to the model answer it began as."""

    text: str
    based_on_step_run_id: int | None
    revision_id: int | None
    revision_number: int | None
    stored_diff: Any  # the column as read: JSON text (SQLite) or decoded (PostgreSQL)
    author_id: int

    @property
    def diff(self) -> tuple[tuple[str, str], ...]:
        """Return the word diff as (op, text) pairs (decoded when asked: few formats need it)."""
        return tuple((str(op), str(text)) for op, text in rows.decode_json(self.stored_diff) or [])


@dataclass(frozen=True)
class StepLine:
    """A step in outline order: its revisions, ideal answer, standing and chain conversation."""

    id: int
    number: str
    title: str
    chain: bool
    revisions: tuple[RevisionLine, ...]  # oldest first
    ideal: IdealLine | None
    passing: bool
    passing_step_run_id: int | None  # on the newest revision, whichever model it was
    done: bool
    # Chain mode: (number, prompt, answer) of each earlier step, as workbench.runs chains them.
    earlier: tuple[tuple[str, str | None, str | None], ...]
    # A chain-mode step after an unfinished one (never in an accepted set): sent unchained here.
    chain_broken: bool
    context: str

    @property
    def latest(self) -> RevisionLine | None:
        return self.revisions[-1] if self.revisions else None

    def messages(self, prompt: str | None = None) -> list[dict[str, str]]:
        """Return the conversation a model gets for ``prompt`` (default: the newest prompt)."""
        if prompt is None:
            # A new list each time; its messages are shared by the rows of every format.
            return list(self._conversation)
        return chain_messages(context=self.context, earlier=self.earlier, prompt=prompt)

    @cached_property
    def _conversation(self) -> list[dict[str, str]]:
        prompt = self.latest.prompt if self.latest is not None else ""
        return chain_messages(context=self.context, earlier=self.earlier, prompt=prompt)

    def run(self, step_run_id: int | None) -> RunLine | None:
        """Return a kept run of this step by id."""
        if step_run_id is None:
            return None
        for rev in self.revisions:
            for r in rev.runs:
                if r.step_run_id == step_run_id:
                    return r
        return None

    def target_answer(self) -> tuple[str, str, RunLine | None] | None:
        """Return (text, source, run) of the answer to learn from: the ideal, else the passing run.

        None when neither is there among the kept runs.
        """
        return self._target

    @cached_property
    def _target(self) -> tuple[str, str, RunLine | None] | None:
        if self.ideal is not None and self.ideal.text.strip():
            return self.ideal.text, "ideal_answer", None
        run = self.run(self.passing_step_run_id)
        if run is not None and run.answer.strip():
            return run.answer, "passing_run", run
        return None


@dataclass(frozen=True)
class ProblemSetLineage:
    """An accepted problem set and its steps in outline order."""

    id: int
    project_id: int
    title: str
    statement: str
    context: str
    persona: str
    domain: str
    author_id: int
    accepted_at: dt.datetime | None
    steps: tuple[StepLine, ...]


def count_accepted(*, session: Session, project_id: int, filters: LineageFilters) -> int:
    """Count the accepted problem sets an export with these filters takes."""
    where = rows.conditions(project_id, filters.domain, filters.accepted_from, filters.accepted_to)
    return session.scalar(select(func.count()).select_from(ProblemSet).where(*where)) or 0


def taxonomy_labels(*, session: Session, project_id: int) -> dict[tuple[int, str], str]:
    """Map (taxonomy version, category key) to its label, for every version of the project."""
    labels = {(0, c["key"]): c["label"] for c in taxonomy.DEFAULT_CATEGORIES}
    for version, categories in session.execute(
        select(Taxonomy.version, Taxonomy.categories).where(Taxonomy.project_id == project_id)
    ):
        for c in categories:
            labels[(version, c["key"])] = c["label"]
    return labels


def accepted(
    *,
    session: Session,
    project_id: int,
    filters: LineageFilters | None = None,
    chunk_size: int = CHUNK,
) -> Iterator[ProblemSetLineage]:
    """Stream the project's accepted problem sets matching ``filters``, in id order.

    The SFT formats, which need only each step's conversation and target answer, read the short
    ``workbench.lineage_sft`` instead (the same rules, a fraction of the queries).
    """
    filters = filters or LineageFilters()
    labels = taxonomy_labels(session=session, project_id=project_id)
    endpoints: dict[int, str] = {}
    where = rows.conditions(project_id, filters.domain, filters.accepted_from, filters.accepted_to)
    # Plain column rows on the session's connection, no ORM machinery: an export reads millions.
    conn = session.connection()
    last_id = 0
    while True:
        problem_sets = rows.problem_sets(conn, where, last_id, chunk_size)
        if not problem_sets:
            return
        # The chunk: every matching problem set in (last_id, its last id].
        chunk = (*where, ProblemSet.id > last_id, ProblemSet.id <= problem_sets[-1].id)
        last_id = problem_sets[-1].id
        yield from _chunk(conn, problem_sets, chunk, filters, labels, endpoints)


def _chunk(
    conn: Connection,
    problem_sets: Sequence[_Row],
    chunk: rows.Chunk,
    filters: LineageFilters,
    labels: dict[tuple[int, str], str],
    endpoints: dict[int, str],
) -> Iterator[ProblemSetLineage]:
    steps = rows.steps(conn, chunk)
    revisions = rows.revisions(conn, chunk)
    results = rows.results(conn, chunk)
    ideals = _ideals(rows.ideals(conn, chunk), revisions)
    latest = {step_id: revs[-1] for step_id, revs in revisions.items()}
    runs = rows.runs(conn, chunk, endpoints)
    annotations = _annotations(rows.annotation_rows(conn, chunk), labels)
    finished = [
        (r["step_run_id"], rev.id)
        for rev in latest.values()
        for r in reversed(runs.get(rev.id, []))
        if r["status"] == "ok"
    ]
    blocking = {s.value for s in progress.BLOCKING}
    faulty = {
        a.step_run_id
        for notes in annotations.values()
        for a in notes
        if a.step_run_id is not None and a.severity in blocking
    }
    # The done rule (workbench.progress) on the rows loaded here, every model's runs included.
    ran = {revision_id for _run_id, revision_id in finished}
    passing = progress.choose_passing(
        {r.id: len(rubric) for r in latest.values() if (rubric := rows.decode_json(r.rubric))},
        finished,
        {run_id: {c for c, met in rs.items() if met} for run_id, rs in results.items()},
        faulty,
    )
    by_ps: dict[int, list[_Row]] = {}
    for s in steps:
        by_ps.setdefault(s.problem_set_id, []).append(s)
    kept = set(filters.endpoint_ids) if filters.endpoint_ids is not None else None
    answers = {r["step_run_id"]: r["answer"] for rs in runs.values() for r in rs}
    no_notes: list[AnnotationLine] = []
    for ps in problem_sets:
        lines: list[StepLine] = []
        earlier: list[tuple[str, str | None, str | None]] = []
        for number, s in progress.outline(by_ps.get(ps.id, [])):
            revs = revisions.get(s.id, [])
            ideal = ideals.get(s.id)
            newest_rev = revs[-1] if revs else None
            passing_id = passing.get(newest_rev.id) if newest_rev is not None else None
            state = progress.StepState(
                revision_number=newest_rev.number if newest_rev is not None else None,
                passing_step_run_id=passing_id,
                has_ideal=_ideal_counts(ideal),
                final_run=newest_rev is not None and newest_rev.id in ran,
            )
            by_id = {a.id: a for rev in revs for a in annotations.get(rev.id, no_notes)}
            step_earlier: tuple[tuple[str, str | None, str | None], ...] = ()
            broken = False
            if s.chain:
                try:  # workbench.runs' own check: every earlier step has a prompt and an answer
                    chain_messages(context=ps.context, earlier=earlier, prompt="")
                    step_earlier = tuple(earlier)
                except ValidationFailed:
                    broken = True
            lines.append(
                StepLine(
                    id=s.id,
                    number=number,
                    title=s.title,
                    chain=s.chain,
                    revisions=tuple(
                        [
                            _revision(
                                revs[i],
                                revs[i - 1].prompt if i else "",
                                runs.get(revs[i].id, []),
                                results,
                                annotations.get(revs[i].id, no_notes),
                                by_id,
                                passing_id,
                                kept,
                            )
                            for i in range(len(revs))
                        ]
                    ),
                    ideal=ideal,
                    passing=state.passing,
                    passing_step_run_id=passing_id,
                    done=state.done,
                    earlier=step_earlier,
                    chain_broken=broken,
                    context=ps.context,
                )
            )
            # What this step adds to a later step's chain, from every model's runs.
            answer = chain_answer(
                ideal.text if ideal is not None else None, answers.get(passing_id or 0)
            )
            earlier.append((number, newest_rev.prompt if newest_rev is not None else None, answer))
        yield ProblemSetLineage(
            id=ps.id,
            project_id=ps.project_id,
            title=ps.title,
            statement=ps.statement,
            context=ps.context,
            persona=Persona(ps.persona).value,
            domain=ps.domain,
            author_id=ps.author_id,
            accepted_at=rows.utc(ps.accepted_at),
            steps=tuple(lines),
        )


def _ideal_counts(ideal: IdealLine | None) -> bool:
    return progress.has_ideal(ideal.text if ideal is not None else None)


_SIDES = {s.value: s.value for s in Side}
_SEVERITIES = {s.value: s.value for s in Severity}


def _annotations(
    loaded: Sequence[_Row], labels: dict[tuple[int, str], str]
) -> dict[int, list[AnnotationLine]]:
    """Group annotation rows by revision id (in the order they were made)."""
    out: dict[int, list[AnnotationLine]] = {}
    for a in loaded:
        out.setdefault(a.revision_id, []).append(
            AnnotationLine(
                id=a.id,
                revision_id=a.revision_id,
                step_run_id=a.step_run_id,
                # The enums' own values (a stored value outside them fails, as the ORM would).
                side=_SIDES.get(a.side) or Side(a.side).value,
                start=a.start,
                end=a.end,
                quote=a.quote,
                category=a.category,
                category_label=labels.get((a.taxonomy_version, a.category), a.category),
                severity=_SEVERITIES.get(a.severity) or Severity(a.severity).value,
                note=a.note,
                taxonomy_version=a.taxonomy_version,
                author_id=a.author_id,
                created_at=rows.utc(a.created_at),  # type: ignore[arg-type]
            )
        )
    return out


def _ideals(loaded: Sequence[_Row], revisions: dict[int, list[_Row]]) -> dict[int, IdealLine]:
    """Index ideal answer rows by step id."""
    numbers = {r.id: r.number for revs in revisions.values() for r in revs}
    return {
        row.step_id: IdealLine(
            text=row.text,
            based_on_step_run_id=row.based_on_step_run_id,
            revision_id=row.revision_id,
            revision_number=numbers.get(row.revision_id) if row.revision_id else None,
            stored_diff=row.diff,
            author_id=row.author_id,
        )
        for row in loaded
    }


def system_prompt(params: dict[str, Any], messages: Sequence[dict[str, str]]) -> str | None:
    """Return the system prompt a run was sent: its parameter, else the conversation's first."""
    system = params.get("system_prompt")
    if system is None and messages and messages[0].get("role") == "system":
        system = messages[0].get("content")
    return system


def _revision(
    rev: _Row,
    previous_prompt: str,
    runs: list[dict[str, Any]],
    results: dict[int, dict[int, bool]],
    notes: list[AnnotationLine],
    by_id: dict[int, AnnotationLine],
    passing_id: int | None,
    kept: set[int] | None,
) -> RevisionLine:
    run_lines = []
    rubric = tuple(rows.decode_json(rev.rubric) or [])
    motivated_by = tuple(rows.decode_json(rev.motivated_by) or [])
    for r in runs:
        if kept is not None and r["endpoint_id"] not in kept:
            continue
        run_id = r["step_run_id"]
        scored = results.get(run_id, {})
        params = dict(rows.decode_json(r["params"]) or {})
        messages = tuple([dict(m) for m in rows.decode_json(r["messages"]) or []])
        system = system_prompt(params, messages)
        run_lines.append(
            RunLine(
                step_run_id=run_id,
                endpoint_id=r["endpoint_id"],
                endpoint_name=r["endpoint_name"],
                provider=r["provider"],
                model_id=r["model_id"],
                status=r["status"],
                answer=r["answer"] or "",
                finish_reason=r["finish_reason"],
                params=params,
                system_prompt=system,
                messages=messages,
                chained=bool(r["chained"]),
                created_at=rows.utc(r["created_at"]),  # type: ignore[arg-type]
                rubric=tuple([CriterionResult(i, c, scored.get(i)) for i, c in enumerate(rubric)]),
                annotations=tuple([a for a in notes if a.step_run_id == run_id]),
                passing=run_id == passing_id,
            )
        )
    return RevisionLine(
        id=rev.id,
        number=rev.number,
        prompt=rev.prompt,
        rubric=rubric,
        reference=rev.reference,
        reason=rev.reason,
        motivated_by=motivated_by,
        author_id=rev.author_id,
        created_at=rows.utc(rev.created_at),  # type: ignore[arg-type]
        runs=tuple(run_lines),
        prompt_annotations=tuple([a for a in notes if a.step_run_id is None]),
        motivating=tuple([by_id[i] for i in motivated_by if i in by_id]),
        previous_prompt=previous_prompt,
    )


def current_taxonomy(*, session: Session, project_id: int) -> tuple[int, list[dict[str, str]]]:
    """Return the project's taxonomy in force (version, categories) for a snapshot's manifest."""
    cats = taxonomy.current(session=session, project_id=project_id)
    return cats.version, [dict(c) for c in cats.categories]
