"""The short reading of the delivery read model: each accepted step's conversation and answer.

The supervised fine-tuning formats (``reads_history = False``) need, per step, only the
conversation a model is sent for the newest prompt (chain mode: with the earlier steps) and the
answer to learn from: the ideal answer, else the run that made the newest revision pass. This
reads that in two queries per chunk of problem sets (one joining problem sets, steps, newest
revisions and ideal answers; one finding the chunk's end), and reads runs only for the steps
that no ideal answer stands for. The rules are the lineage's own: ``progress.choose_passing``,
``progress.has_ideal``, ``runs.chain_messages`` / ``chain_answer``, ``lineage.system_prompt``;
a test checks every short format gives the same rows from this as from ``lineage.accepted``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.orm import Session

from expertloop.errors import ValidationFailed
from expertloop.workbench import lineage, progress
from expertloop.workbench import lineage_rows as rows
from expertloop.workbench.models import IdealAnswer, ProblemSet, Step, StepRevision
from expertloop.workbench.runs import chain_answer, chain_messages

CHUNK = 500


class SFTRun:
    """The run whose answer a step learns from (when no ideal answer stands for it)."""

    __slots__ = ("answer", "step_run_id", "system_prompt")

    def __init__(self, step_run_id: int, answer: str, system_prompt: str | None) -> None:
        self.step_run_id = step_run_id
        self.answer = answer
        self.system_prompt = system_prompt


class SFTStep:
    """A step as the SFT formats read it: its number, conversation and target answer."""

    __slots__ = ("_conversation", "_target", "earlier", "id", "number")

    def __init__(
        self,
        id: int,
        number: str,
        earlier: tuple[tuple[str, str | None, str | None], ...],
        conversation: list[dict[str, str]],
        target: tuple[str, str, SFTRun | None] | None,
    ) -> None:
        self.id = id
        self.number = number
        self.earlier = earlier
        self._conversation = conversation
        self._target = target

    def messages(self) -> list[dict[str, str]]:
        """Return the conversation a model gets for the newest prompt (a new list each time)."""
        return list(self._conversation)

    def target_answer(self) -> tuple[str, str, SFTRun | None] | None:
        """Return (text, source, run) of the answer to learn from, as ``StepLine`` does."""
        return self._target


class SFTProblemSet:
    """An accepted problem set as the SFT formats read it."""

    __slots__ = ("id", "steps")

    def __init__(self, id: int, steps: tuple[SFTStep, ...]) -> None:
        self.id = id
        self.steps = steps


def _newest_number() -> Any:
    return (
        select(func.max(StepRevision.number))
        .where(StepRevision.step_id == Step.id)
        .correlate(Step)
        .scalar_subquery()
    )


def _chunk_rows(conn: Connection, chunk: rows.Chunk) -> Sequence[rows.Row]:
    """Return the chunk's steps with their newest revision and ideal answer, by problem set."""
    return conn.execute(
        select(
            ProblemSet.id.label("ps_id"),
            ProblemSet.context,
            Step.id,
            Step.parent_id,
            Step.position,
            Step.chain,
            StepRevision.id.label("revision_id"),
            StepRevision.prompt,
            rows.as_stored(StepRevision.rubric),
            IdealAnswer.text.label("ideal"),
        )
        .select_from(ProblemSet)
        .join(Step, Step.problem_set_id == ProblemSet.id)
        .outerjoin(
            StepRevision,
            and_(StepRevision.step_id == Step.id, StepRevision.number == _newest_number()),
        )
        .outerjoin(IdealAnswer, IdealAnswer.step_id == Step.id)
        .where(*chunk)
        .order_by(ProblemSet.id)
    ).all()


def accepted(
    *,
    session: Session,
    project_id: int,
    filters: lineage.LineageFilters | None = None,
    chunk_size: int = CHUNK,
) -> Iterator[SFTProblemSet]:
    """Stream the project's accepted problem sets matching ``filters`` (with steps), in id order."""
    filters = filters or lineage.LineageFilters()
    where = rows.conditions(project_id, filters.domain, filters.accepted_from, filters.accepted_to)
    kept = set(filters.endpoint_ids) if filters.endpoint_ids is not None else None
    endpoints: dict[int, str] = {}
    conn = session.connection()
    last_id = 0
    while True:
        # The chunk's end: the chunk_size-th matching problem set after the last (None: the rest).
        end = conn.execute(
            select(ProblemSet.id)
            .where(*where, ProblemSet.id > last_id)
            .order_by(ProblemSet.id)
            .offset(chunk_size - 1)
            .limit(1)
        ).scalar()
        chunk = (*where, ProblemSet.id > last_id)
        if end is not None:
            chunk = (*chunk, ProblemSet.id <= end)
        loaded = _chunk_rows(conn, chunk)
        if not loaded:
            return
        last_id = loaded[-1].ps_id
        yield from _problem_sets(conn, loaded, kept, endpoints)
        if end is None:
            return


def _problem_sets(
    conn: Connection,
    loaded: Sequence[rows.Row],
    kept: set[int] | None,
    endpoints: dict[int, str],
) -> Iterator[SFTProblemSet]:
    # Runs matter only where no ideal answer stands for the step: find which runs pass there.
    open_revisions = {
        r.revision_id: r.rubric
        for r in loaded
        if r.revision_id is not None and not progress.has_ideal(r.ideal)
    }
    passing: dict[int, int] = {}
    runs: dict[int, list[dict[str, Any]]] = {}
    if open_revisions:
        ids = list(open_revisions)
        results = rows.results_of(conn, ids)
        passing = progress.choose_passing(
            {
                rev_id: len(rubric)
                for rev_id, stored in open_revisions.items()
                if (rubric := rows.decode_json(stored))
            },
            [
                (run_id, revision_id)
                for run_id, revision_id, status in reversed(rows.run_states_of(conn, ids))
                if status == "ok"
            ],
            {run_id: {c for c, met in rs.items() if met} for run_id, rs in results.items()},
            rows.faulty_runs_of(conn, ids),
        )
        wanted = list(passing.values())
        runs = rows.runs(conn, None, endpoints, wanted) if wanted else {}
    answers = {r["step_run_id"]: r for rs in runs.values() for r in rs}
    group: list[rows.Row] = []
    current = None
    for row in loaded:
        if row[0] != current:  # ps_id: rows come by problem set
            if group:
                yield _problem_set(group, passing, answers, kept)
            group, current = [], row[0]
        group.append(row)
    if group:
        yield _problem_set(group, passing, answers, kept)


def _problem_set(
    steps: Sequence[rows.Row],
    passing: dict[int, int],
    answers: dict[int, dict[str, Any]],
    kept: set[int] | None,
) -> SFTProblemSet:
    ps_id, context = steps[0][0], steps[0][1]
    out: list[SFTStep] = []
    earlier: list[tuple[str, str | None, str | None]] = []
    chained = any(s.chain for s in steps)
    for number, s in progress.outline(steps):
        _ps, _ctx, step_id, _parent, _position, chain, revision_id, prompt, _rubric, ideal = s
        passing_id = passing.get(revision_id) if revision_id is not None else None
        run = answers.get(passing_id) if passing_id is not None else None
        step_earlier: tuple[tuple[str, str | None, str | None], ...] = ()
        if chain:
            try:  # workbench.runs' own check: every earlier step has a prompt and an answer
                chain_messages(context=context, earlier=earlier, prompt="")
                step_earlier = tuple(earlier)
            except ValidationFailed:
                pass
        if revision_id is None:
            prompt = None
        target: tuple[str, str, SFTRun | None] | None = None
        if ideal is not None and ideal.strip():
            target = ideal, "ideal_answer", None
        elif run is not None and (kept is None or run["endpoint_id"] in kept):
            answer = run["answer"] or ""
            if answer.strip():
                params = rows.decode_json(run["params"]) or {}
                messages = rows.decode_json(run["messages"]) or []
                system = lineage.system_prompt(params, messages)
                target = answer, "passing_run", SFTRun(run["step_run_id"], answer, system)
        conversation = chain_messages(context=context, earlier=step_earlier, prompt=prompt or "")
        out.append(SFTStep(step_id, number, step_earlier, conversation, target))
        if chained:  # what this step adds to a later step's chain, from every model's runs
            answer_text = chain_answer(ideal, run["answer"] if run is not None else None)
            earlier.append((number, prompt, answer_text))
    return SFTProblemSet(ps_id, tuple(out))
