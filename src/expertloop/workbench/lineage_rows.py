"""The delivery read model's queries: plain column rows of one chunk of problem sets.

A chunk is every matching problem set in an id range, so each query names the range and the
filters (one cached statement, no IN list to render) and joins down to its table. Columns come
as the driver returns them where SQLAlchemy's per-row processing costs most (JSON, times,
enums); ``decode_json`` and ``utc`` read them as the column types would.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, String, select, type_coerce
from sqlalchemy.dialects import sqlite

from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.workbench import progress
from expertloop.workbench.models import (
    Annotation,
    IdealAnswer,
    ProblemSet,
    RubricResult,
    Status,
    Step,
    StepRevision,
    StepRun,
)

Row = Any  # a result row of plain columns (attribute access by column name)
Chunk = tuple[Any, ...]  # the WHERE conditions naming a chunk's problem sets


def decode_json(value: Any) -> Any:
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


def utc(value: Any) -> dt.datetime | None:
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


def as_stored(column: Any) -> Any:
    """Select a column as the driver returns it (no SQLAlchemy result processing per row)."""
    return type_coerce(column, String).label(column.key)


def conditions(
    project_id: int,
    domain: str | None,
    accepted_from: dt.date | None,
    accepted_to: dt.date | None,
) -> Chunk:
    """Return the WHERE conditions of a project's accepted problem sets with these filters."""
    out: list[Any] = [ProblemSet.project_id == project_id, ProblemSet.status == Status.accepted]
    if domain is not None:
        out.append(ProblemSet.domain == domain)
    if accepted_from is not None:
        start = dt.datetime.combine(accepted_from, dt.time(), tzinfo=dt.UTC)
        out.append(ProblemSet.accepted_at >= start)
    if accepted_to is not None:
        end = dt.datetime.combine(accepted_to + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        out.append(ProblemSet.accepted_at < end)
    return tuple(out)


_PROBLEM_SET_COLUMNS = (
    *(ProblemSet.id, ProblemSet.project_id, ProblemSet.title, ProblemSet.statement),
    *(ProblemSet.context, as_stored(ProblemSet.persona), ProblemSet.domain),
    *(ProblemSet.author_id, as_stored(ProblemSet.accepted_at)),
)
_REVISION_COLUMNS = (
    *(StepRevision.id, StepRevision.step_id, StepRevision.number, StepRevision.prompt),
    *(as_stored(StepRevision.rubric), StepRevision.reference, StepRevision.reason),
    *(as_stored(StepRevision.motivated_by), StepRevision.author_id),
    as_stored(StepRevision.created_at),
)
_ANNOTATION_COLUMNS = (
    *(Annotation.id, Annotation.revision_id, Annotation.step_run_id, as_stored(Annotation.side)),
    *(Annotation.start, Annotation.end, Annotation.quote, Annotation.category),
    *(as_stored(Annotation.severity), Annotation.note, Annotation.taxonomy_version),
    *(Annotation.author_id, as_stored(Annotation.created_at)),
)
_RUN_COLUMNS = (
    *(StepRun.id.label("step_run_id"), StepRun.revision_id, StepRun.endpoint_id),
    *(StepRun.chained, as_stored(StepRun.created_at), ModelRun.provider, ModelRun.model_id),
    *(ModelRun.status, ModelRun.answer, ModelRun.finish_reason),
    *(as_stored(ModelRun.params), as_stored(ModelRun.messages)),
)


def problem_sets(conn: Connection, where: Chunk, after: int, limit: int) -> Sequence[Row]:
    """Return the next ``limit`` matching problem sets with an id above ``after``, in id order."""
    return conn.execute(
        select(*_PROBLEM_SET_COLUMNS)
        .where(*where, ProblemSet.id > after)
        .order_by(ProblemSet.id)
        .limit(limit)
    ).all()


def steps(conn: Connection, chunk: Chunk) -> Sequence[Row]:
    """Return the chunk's steps (outline columns, title, chain)."""
    return conn.execute(
        select(Step.id, Step.problem_set_id, Step.parent_id, Step.position, Step.title, Step.chain)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
    ).all()


def revisions(conn: Connection, chunk: Chunk) -> dict[int, list[Row]]:
    """Return the chunk's revisions: step id -> them, oldest first."""
    out: dict[int, list[Row]] = {}
    for rev in conn.execute(
        select(*_REVISION_COLUMNS)
        .join(Step, Step.id == StepRevision.step_id)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
        .order_by(StepRevision.step_id, StepRevision.number)
    ).all():
        out.setdefault(rev.step_id, []).append(rev)
    return out


def _to_revisions(query: Any) -> Any:
    return query.join(Step, Step.id == StepRevision.step_id).join(
        ProblemSet, ProblemSet.id == Step.problem_set_id
    )


def runs(
    conn: Connection,
    chunk: Chunk | None,
    endpoints: dict[int, str],
    ids: Sequence[int] = (),
) -> dict[int, list[dict[str, Any]]]:
    """Return runs (revision id -> them, oldest first): the chunk's, or those of ``ids``."""
    query = select(*_RUN_COLUMNS).join(ModelRun, ModelRun.id == StepRun.model_run_id)
    if chunk is not None:
        query = _to_revisions(query.join(StepRevision, StepRevision.id == StepRun.revision_id))
        query = query.where(*chunk)
    else:
        query = query.where(StepRun.id.in_(list(ids)))
    out: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(query.order_by(StepRun.id)).all():
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


def results(conn: Connection, chunk: Chunk) -> dict[int, dict[int, bool]]:
    """Return the chunk's rubric results: step run id -> criterion -> met."""
    query = (
        select(RubricResult.step_run_id, RubricResult.criterion, RubricResult.met)
        .join(StepRun, StepRun.id == RubricResult.step_run_id)
        .join(StepRevision, StepRevision.id == StepRun.revision_id)
    )
    out: dict[int, dict[int, bool]] = {}
    for run_id, criterion, met in conn.execute(_to_revisions(query).where(*chunk)).all():
        out.setdefault(run_id, {})[criterion] = met
    return out


def annotation_rows(conn: Connection, chunk: Chunk) -> Sequence[Row]:
    """Return the chunk's annotations in the order they were made."""
    query = select(*_ANNOTATION_COLUMNS).join(
        StepRevision, StepRevision.id == Annotation.revision_id
    )
    return conn.execute(_to_revisions(query).where(*chunk).order_by(Annotation.id)).all()


def ideals(conn: Connection, chunk: Chunk) -> Sequence[Row]:
    """Return the chunk's ideal answers (the diff as stored)."""
    return conn.execute(
        select(
            IdealAnswer.step_id,
            IdealAnswer.text,
            IdealAnswer.based_on_step_run_id,
            IdealAnswer.revision_id,
            as_stored(IdealAnswer.diff),
            IdealAnswer.author_id,
        )
        .join(Step, Step.id == IdealAnswer.step_id)
        .join(ProblemSet, ProblemSet.id == Step.problem_set_id)
        .where(*chunk)
    ).all()


# By revision ids: the short reading (lineage_sft) needs runs only of the revisions that no ideal
# answer stands for, usually none or few of a chunk.


def run_states_of(conn: Connection, revision_ids: Sequence[int]) -> Sequence[Row]:
    """Return (step run id, revision id, status) of these revisions' runs, oldest first."""
    return conn.execute(
        select(StepRun.id, StepRun.revision_id, ModelRun.status)
        .join(ModelRun, ModelRun.id == StepRun.model_run_id)
        .where(StepRun.revision_id.in_(list(revision_ids)))
        .order_by(StepRun.id)
    ).all()


def results_of(conn: Connection, revision_ids: Sequence[int]) -> dict[int, dict[int, bool]]:
    """Return these revisions' rubric results: step run id -> criterion -> met."""
    query = (
        select(RubricResult.step_run_id, RubricResult.criterion, RubricResult.met)
        .join(StepRun, StepRun.id == RubricResult.step_run_id)
        .where(StepRun.revision_id.in_(list(revision_ids)))
    )
    out: dict[int, dict[int, bool]] = {}
    for run_id, criterion, met in conn.execute(query).all():
        out.setdefault(run_id, {})[criterion] = met
    return out


def faulty_runs_of(conn: Connection, revision_ids: Sequence[int]) -> set[int | None]:
    """Return these revisions' step runs with a fault that blocks passing (progress.BLOCKING)."""
    query = select(Annotation.step_run_id).where(
        Annotation.revision_id.in_(list(revision_ids)),
        Annotation.step_run_id.is_not(None),
        Annotation.severity.in_(progress.BLOCKING),
    )
    return {run_id for (run_id,) in conn.execute(query).all()}
