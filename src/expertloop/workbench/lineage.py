"""The delivery read model: a project's accepted problem sets with their whole history, streamed.

This is the only place that reads workbench tables for exports. Problem sets come in id order,
a chunk at a time; each chunk's steps, revisions, runs, rubric results, annotations and ideal
answers are loaded with one IN query each, so memory stays flat however many there are.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, String, func, select, type_coerce
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from expertloop.errors import ValidationFailed
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.workbench import diffs, progress, taxonomy
from expertloop.workbench.models import (
    Annotation,
    IdealAnswer,
    Persona,
    ProblemSet,
    RubricResult,
    Severity,
    Side,
    Status,
    Step,
    StepRevision,
    StepRun,
    Taxonomy,
)
from expertloop.workbench.runs import chain_answer, chain_messages

CHUNK = 200
_Row = Any  # a result row of plain columns (attribute access by column name)


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
        return tuple((str(op), str(text)) for op, text in _json(self.stored_diff) or [])


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
    query = select(func.count()).select_from(ProblemSet)
    return session.scalar(query.where(*_conditions(project_id, filters))) or 0


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
    """Stream the project's accepted problem sets matching ``filters``, in id order."""
    filters = filters or LineageFilters()
    labels = taxonomy_labels(session=session, project_id=project_id)
    endpoints: dict[int, str] = {}
    conditions = _conditions(project_id, filters)
    # Plain column rows on the session's connection, no ORM machinery: an export reads millions.
    conn = session.connection()
    last_id = 0
    while True:
        problem_sets = conn.execute(
            select(*_PROBLEM_SET_COLUMNS)
            .where(*conditions, ProblemSet.id > last_id)
            .order_by(ProblemSet.id)
            .limit(chunk_size)
        ).all()
        if not problem_sets:
            return
        # The chunk is every matching problem set in (last_id, its last id]: the queries of its
        # rows name that range, not an IN list of ids (one cached statement, nothing to render).
        chunk = (*conditions, ProblemSet.id > last_id, ProblemSet.id <= problem_sets[-1].id)
        last_id = problem_sets[-1].id
        yield from _chunk(conn, problem_sets, chunk, filters, labels, endpoints)


def _conditions(project_id: int, filters: LineageFilters) -> tuple[Any, ...]:
    out: list[Any] = [ProblemSet.project_id == project_id, ProblemSet.status == Status.accepted]
    if filters.domain is not None:
        out.append(ProblemSet.domain == filters.domain)
    if filters.accepted_from is not None:
        start = dt.datetime.combine(filters.accepted_from, dt.time(), tzinfo=dt.UTC)
        out.append(ProblemSet.accepted_at >= start)
    if filters.accepted_to is not None:
        end = dt.datetime.combine(
            filters.accepted_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
        )
        out.append(ProblemSet.accepted_at < end)
    return tuple(out)


def _json(value: Any) -> Any:
    """Decode a JSON column read as it is stored (text on SQLite; PostgreSQL's driver decodes)."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:  # NaN, integers past 64 bits: what json.loads accepts
            return json.loads(value)
    return value


_SQLITE_DATETIME = sqlite.DATETIME().result_processor(  # type: ignore[no-untyped-call]
    sqlite.dialect(), None
)


def _utc(value: Any) -> dt.datetime | None:
    """Read a UTCDateTime column as ``types.UTCDateTime`` does, from its stored value."""
    if value is None:
        return None
    if isinstance(value, str):
        # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" (naive UTC); anything else: SQLAlchemy's parse.
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        value = _SQLITE_DATETIME(value) if _SQLITE_DATETIME is not None else value
    assert isinstance(value, dt.datetime)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _raw(column: Any) -> Any:
    """Select a column as the driver returns it (no SQLAlchemy result processing per row)."""
    return type_coerce(column, String).label(column.key)


def _chunk(
    conn: Connection,
    problem_sets: Sequence[_Row],
    chunk: tuple[Any, ...],
    filters: LineageFilters,
    labels: dict[tuple[int, str], str],
    endpoints: dict[int, str],
) -> Iterator[ProblemSetLineage]:
    steps = conn.execute(
        select(Step.id, Step.problem_set_id, Step.parent_id, Step.position, Step.title, Step.chain)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
    ).all()
    revisions: dict[int, list[_Row]] = {}  # step id -> its revisions, oldest first
    for rev in conn.execute(
        select(*_REVISION_COLUMNS)
        .join(Step, Step.id == StepRevision.step_id)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
        .order_by(StepRevision.step_id, StepRevision.number)
    ).all():
        revisions.setdefault(rev.step_id, []).append(rev)
    runs = _runs(conn, chunk, endpoints)
    results: dict[int, dict[int, bool]] = {}
    for run_id, criterion, met in conn.execute(
        select(RubricResult.step_run_id, RubricResult.criterion, RubricResult.met)
        .join(StepRun, StepRun.id == RubricResult.step_run_id)
        .join(StepRevision, StepRevision.id == StepRun.revision_id)
        .join(Step, Step.id == StepRevision.step_id)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
    ).all():
        results.setdefault(run_id, {})[criterion] = met
    annotations = _annotations(conn, chunk, labels)
    ideals = _ideals(conn, chunk, revisions)
    # The passing rule (workbench.progress) on the rows loaded here, every model's runs included.
    latest = {step_id: revs[-1] for step_id, revs in revisions.items()}
    blocking = {s.value for s in progress.BLOCKING}
    passing = progress.choose_passing(
        {r.id: len(rubric) for r in latest.values() if (rubric := _json(r.rubric))},
        [
            (r["step_run_id"], rev.id)
            for rev in latest.values()
            for r in reversed(runs.get(rev.id, []))
            if r["status"] == "ok"
        ],
        {run_id: {c for c, met in rs.items() if met} for run_id, rs in results.items()},
        {
            a.step_run_id
            for notes in annotations.values()
            for a in notes
            if a.step_run_id is not None and a.severity in blocking
        },
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
            newest = revs[-1] if revs else None
            passing_id = passing.get(newest.id) if newest is not None else None
            state = progress.StepState(
                revision_number=newest.number if newest is not None else None,
                passing_step_run_id=passing_id,
                has_ideal=progress.has_ideal(ideal.text if ideal is not None else None),
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
                                rev,
                                revs[i - 1].prompt if i else "",
                                runs.get(rev.id, []),
                                results,
                                annotations.get(rev.id, no_notes),
                                by_id,
                                passing_id,
                                kept,
                            )
                            for i, rev in enumerate(revs)
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
            earlier.append((number, newest.prompt if newest is not None else None, answer))
        yield ProblemSetLineage(
            id=ps.id,
            project_id=ps.project_id,
            title=ps.title,
            statement=ps.statement,
            context=ps.context,
            persona=Persona(ps.persona).value,
            domain=ps.domain,
            author_id=ps.author_id,
            accepted_at=_utc(ps.accepted_at),
            steps=tuple(lines),
        )


_PROBLEM_SET_COLUMNS = (
    *(ProblemSet.id, ProblemSet.project_id, ProblemSet.title, ProblemSet.statement),
    *(ProblemSet.context, _raw(ProblemSet.persona), ProblemSet.domain, ProblemSet.author_id),
    _raw(ProblemSet.accepted_at),
)
_REVISION_COLUMNS = (
    *(StepRevision.id, StepRevision.step_id, StepRevision.number, StepRevision.prompt),
    *(_raw(StepRevision.rubric), StepRevision.reference, StepRevision.reason),
    *(_raw(StepRevision.motivated_by), StepRevision.author_id, _raw(StepRevision.created_at)),
)
_ANNOTATION_COLUMNS = (
    *(Annotation.id, Annotation.revision_id, Annotation.step_run_id, _raw(Annotation.side)),
    *(Annotation.start, Annotation.end, Annotation.quote, Annotation.category),
    *(_raw(Annotation.severity), Annotation.note, Annotation.taxonomy_version),
    *(Annotation.author_id, _raw(Annotation.created_at)),
)
_SIDES = {s.value: s.value for s in Side}
_SEVERITIES = {s.value: s.value for s in Severity}


def _annotations(
    conn: Connection, chunk: tuple[Any, ...], labels: dict[tuple[int, str], str]
) -> dict[int, list[AnnotationLine]]:
    """Load the chunk's annotations (revision id -> them, in the order they were made)."""
    out: dict[int, list[AnnotationLine]] = {}
    for a in conn.execute(
        select(*_ANNOTATION_COLUMNS)
        .join(StepRevision, StepRevision.id == Annotation.revision_id)
        .join(Step, Step.id == StepRevision.step_id)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
        .order_by(Annotation.id)
    ).all():
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
                created_at=_utc(a.created_at),  # type: ignore[arg-type]
            )
        )
    return out


def _ideals(
    conn: Connection, chunk: tuple[Any, ...], revisions: dict[int, list[_Row]]
) -> dict[int, IdealLine]:
    """Load the chunk's ideal answers (step id -> it)."""
    numbers = {r.id: r.number for revs in revisions.values() for r in revs}
    out: dict[int, IdealLine] = {}
    for row in conn.execute(
        select(
            IdealAnswer.step_id,
            IdealAnswer.text,
            IdealAnswer.based_on_step_run_id,
            IdealAnswer.revision_id,
            _raw(IdealAnswer.diff),
            IdealAnswer.author_id,
        )
        .join(Step, Step.id == IdealAnswer.step_id)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
    ).all():
        out[row.step_id] = IdealLine(
            text=row.text,
            based_on_step_run_id=row.based_on_step_run_id,
            revision_id=row.revision_id,
            revision_number=numbers.get(row.revision_id) if row.revision_id else None,
            stored_diff=row.diff,
            author_id=row.author_id,
        )
    return out


def _runs(
    conn: Connection, chunk: tuple[Any, ...], endpoints: dict[int, str]
) -> dict[int, list[dict[str, Any]]]:
    """Load the chunk's runs (every model: passing and chains need them all), oldest first."""
    out: dict[int, list[dict[str, Any]]] = {}
    rows = conn.execute(
        select(
            StepRun.id.label("step_run_id"),
            StepRun.revision_id,
            StepRun.endpoint_id,
            StepRun.chained,
            _raw(StepRun.created_at),
            ModelRun.provider,
            ModelRun.model_id,
            ModelRun.status,
            ModelRun.answer,
            ModelRun.finish_reason,
            _raw(ModelRun.params),
            _raw(ModelRun.messages),
        )
        .join(ModelRun, ModelRun.id == StepRun.model_run_id)
        .join(StepRevision, StepRevision.id == StepRun.revision_id)
        .join(Step, Step.id == StepRevision.step_id)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
        .order_by(StepRun.id)
    ).all()
    for row in rows:
        out.setdefault(row.revision_id, []).append(row._asdict())
    missing = {r["endpoint_id"] for rs in out.values() for r in rs} - endpoints.keys()
    if missing:
        for endpoint_id, name in conn.execute(
            select(ModelEndpoint.id, ModelEndpoint.name).where(ModelEndpoint.id.in_(missing))
        ):
            endpoints[endpoint_id] = name
    for rs in out.values():
        for r in rs:
            r["endpoint_name"] = endpoints.get(r["endpoint_id"], "")
    return out


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
    rubric = tuple(_json(rev.rubric) or [])
    motivated_by = tuple(_json(rev.motivated_by) or [])
    for r in runs:
        if kept is not None and r["endpoint_id"] not in kept:
            continue
        run_id = r["step_run_id"]
        scored = results.get(run_id, {})
        params = dict(_json(r["params"]) or {})
        messages = tuple([dict(m) for m in _json(r["messages"]) or []])
        system = params.get("system_prompt")
        if system is None and messages and messages[0].get("role") == "system":
            system = messages[0].get("content")
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
                created_at=_utc(r["created_at"]),  # type: ignore[arg-type]
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
        created_at=_utc(rev.created_at),  # type: ignore[arg-type]
        runs=tuple(run_lines),
        prompt_annotations=tuple([a for a in notes if a.step_run_id is None]),
        motivating=tuple([by_id[i] for i in motivated_by if i in by_id]),
        previous_prompt=previous_prompt,
    )


def current_taxonomy(*, session: Session, project_id: int) -> tuple[int, list[dict[str, str]]]:
    """Return the project's taxonomy in force (version, categories) for a snapshot's manifest."""
    cats = taxonomy.current(session=session, project_id=project_id)
    return cats.version, [dict(c) for c in cats.categories]
