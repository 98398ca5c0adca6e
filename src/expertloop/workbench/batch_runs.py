"""Run all steps of a problem set on its target models as one background job.

Every step's newest revision runs on every chosen target model through ``runs.start`` (the same
run rule and conversation building as a single run). Unchained steps go first, all at once; each
chained step follows in outline order, after the steps it carries. The model calls go through
``llm.batch.run_batch`` per endpoint (its concurrency and rate limit) with no transaction held,
and each answer is stored as it arrives.

Idempotent per (job, revision, endpoint): a started pair is written to the job's checkpoint
(``Job.result``) in the transaction that records its run, so a redo after a crash skips what
this job already ran, and calls the model again only for a run a dead attempt left "running".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import ExpertLoopError, PermissionDenied, ValidationFailed
from expertloop.jobs import records
from expertloop.jobs.models import Job, JobStatus
from expertloop.jobs.runner import Handler, JobCancelledError, JobContext
from expertloop.llm import runs as llm_runs
from expertloop.llm.batch import run_batch
from expertloop.llm.hub import ModelHub
from expertloop.llm.interface import Completion, ModelClient, ModelRequest, RunStatus, StreamEvent
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.projects import targets
from expertloop.workbench import access, progress
from expertloop.workbench import runs as step_runs
from expertloop.workbench.models import Step, StepRevision, StepRun

if TYPE_CHECKING:
    from expertloop.jobs.queue import JobQueue

KIND = "workbench.run_all"
# Calls in flight per endpoint (its rate limit applies on top).
CONCURRENCY = 4
RUNNING = "running"
T = TypeVar("T")


@dataclass(frozen=True)
class Pair:
    """One step revision on one target model."""

    number: str
    step_id: int
    revision_id: int
    endpoint_id: int

    @property
    def key(self) -> str:
        return f"{self.revision_id}:{self.endpoint_id}"


def _load(session: Session, actor_id: int, problem_set_id: int) -> access.Loaded:
    """Load the problem set as the actor sees it now, and refuse unless they may run its steps."""
    actor = session.get(User, actor_id)
    if actor is None or not actor.is_active:
        raise PermissionDenied("The account that asked for these runs is no longer active.")
    loaded = access.problem_set(session=session, actor=actor, problem_set_id=problem_set_id)
    loaded.require_edit()
    return loaded


def _endpoint_ids(session: Session, loaded: access.Loaded, chosen: list[int] | None) -> list[int]:
    project = loaded.access.project
    if chosen is None:
        listed = targets.list_targets(session=session, actor=loaded.access.actor, project=project)
        return [e.id for e in listed]
    return list(dict.fromkeys(chosen))


def plan(*, session: Session, problem_set_id: int, endpoint_ids: list[int]) -> list[list[Pair]]:
    """Return the pairs to run in waves: unchained steps first, then each chained step in turn."""
    numbered = progress.numbered(session=session, problem_set_id=problem_set_id)
    latest = progress.latest_revisions(session=session, step_ids=[s.id for _n, s in numbered])
    first: list[Pair] = []
    chained: list[list[Pair]] = []
    for number, step in numbered:
        revision = latest.get(step.id)
        if revision is None:
            continue  # no prompt yet: nothing to run
        pairs = [Pair(number, step.id, revision.id, e) for e in endpoint_ids]
        if step.chain:
            chained.append(pairs)
        else:
            first.extend(pairs)
    return [wave for wave in (first, *chained) if wave]


def check(
    *, session: Session, actor: User, problem_set_id: int, endpoint_ids: list[int] | None
) -> tuple[access.Loaded, list[list[Pair]]]:
    """Refuse a run of all steps the run rule would refuse; return the problem set and plan."""
    loaded = access.problem_set(session=session, actor=actor, problem_set_id=problem_set_id)
    loaded.require_edit()
    ids = _endpoint_ids(session, loaded, endpoint_ids)
    if not ids:
        raise ValidationFailed("The project has no target models to run the steps on.")
    for endpoint_id in ids:
        try:
            targets.authorize_run(
                session=session,
                actor=actor,
                project_id=loaded.access.project.id,
                endpoint_id=endpoint_id,
            )
        except PermissionDenied:
            raise PermissionDenied("Only the author runs a problem set's steps.") from None
    waves = plan(session=session, problem_set_id=problem_set_id, endpoint_ids=ids)
    if not waves:
        raise ValidationFailed("No step has a prompt yet: there is nothing to run.")
    return loaded, waves


def submit_run_all(
    *,
    session: Session,
    queue: JobQueue,
    actor: User,
    problem_set_id: int,
    endpoint_ids: list[int] | None = None,
    idempotency_key: str | None = None,
) -> Job:
    """Record a job that runs every step on the target models.

    The same key gives the same job; without a key, an unfinished job of the actor's for this
    problem set is returned instead of a second one.
    """
    loaded, waves = check(
        session=session, actor=actor, problem_set_id=problem_set_id, endpoint_ids=endpoint_ids
    )
    ps = loaded.problem_set
    project = loaded.access.project
    key = idempotency_key.strip() if idempotency_key else ""
    if not key:
        # One at a time: a second click while the first job is unfinished follows that job.
        unfinished = session.scalars(
            select(Job).where(
                Job.kind == KIND,
                Job.project_id == project.id,
                Job.created_by_id == actor.id,
                Job.status.in_((JobStatus.queued, JobStatus.running)),
            )
        )
        for job in unfinished:
            if (job.payload or {}).get("problem_set_id") == ps.id:
                return job
    return records.submit(
        session=session,
        queue=queue,
        kind=KIND,
        payload={
            "problem_set_id": ps.id,
            "endpoint_ids": endpoint_ids,
            "actor_id": actor.id,
        },
        actor=actor,
        title=f"Run all steps of {ps.title}",
        organisation_id=project.organisation_id,
        project_id=project.id,
        total=sum(len(wave) for wave in waves),
        idempotency_key=f"run-all:{ps.id}:{key}"[:200] if key else None,
    )


# --- The handler -------------------------------------------------------------------------------


@dataclass
class _State:
    """What this job has done so far (kept in its checkpoint)."""

    done: dict[str, int] = field(default_factory=dict)  # pair key -> step run id
    skipped: dict[str, str] = field(default_factory=dict)  # pair key -> why
    finished: set[str] = field(default_factory=set)  # pair keys whose run has ended

    @classmethod
    def load(cls, session: Session, job_id: int) -> _State:
        job = session.get(Job, job_id)
        saved = (job.result if job is not None else None) or {}
        state = cls(
            done={str(k): int(v) for k, v in dict(saved.get("pairs_run") or {}).items()},
            skipped={str(k): str(v) for k, v in dict(saved.get("pairs_skipped") or {}).items()},
        )
        statuses = _statuses(session, list(state.done.values()))
        state.finished = {k for k, sr in state.done.items() if statuses.get(sr, RUNNING) != RUNNING}
        return state

    @property
    def count(self) -> int:
        return len(self.finished) + len(self.skipped)

    def checkpoint(self) -> dict[str, Any]:
        return {"pairs_run": dict(self.done), "pairs_skipped": dict(self.skipped)}


def _statuses(session: Session, step_run_ids: list[int]) -> dict[int, str]:
    if not step_run_ids:
        return {}
    rows = session.execute(
        select(StepRun.id, ModelRun.status)
        .join(ModelRun, ModelRun.id == StepRun.model_run_id)
        .where(StepRun.id.in_(step_run_ids))
    ).all()
    return {int(sr_id): str(status) for sr_id, status in rows}


def _save(session: Session, ctx: JobContext, state: _State) -> None:
    """Write the checkpoint, fenced by the attempt (a newer attempt owns the job otherwise)."""
    written = cast(
        "CursorResult[Any]",
        session.execute(
            update(Job)
            .where(Job.id == ctx.job_id, Job.attempts == ctx.attempt)
            .values(result=state.checkpoint())
        ),
    )
    if written.rowcount != 1:
        raise RuntimeError(f"Job {ctx.job_id} was taken over by another attempt.")


@dataclass(frozen=True)
class _Call:
    """A started run waiting for its model's answer."""

    key: str
    run_id: int
    endpoint: ModelEndpoint
    request: ModelRequest


class _HubClient(ModelClient):
    """One endpoint through the hub, whose calls end as a failed ``Completion``, never raise."""

    def __init__(self, hub: ModelHub, endpoint: ModelEndpoint) -> None:
        self.hub = hub
        self.endpoint = endpoint

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        return self.hub.stream(self.endpoint, request)

    async def complete(self, request: ModelRequest) -> Completion:
        return await self.hub.complete(self.endpoint, request)


def _start_wave(ctx: JobContext, wave: list[Pair], state: _State) -> list[_Call]:
    """Record the wave's runs (each in its own transaction) and return the calls to make."""
    calls: list[_Call] = []
    try:
        for pair in wave:
            if pair.key in state.skipped or pair.key in state.finished:
                continue
            try:
                with ctx.transaction() as session:
                    call = _start_pair(session, ctx, pair, state)
            except ValidationFailed as exc:  # a chained step with no earlier answer, …
                # (rolled back whole; no savepoint: a savepoint's release counts as a commit to
                # after-commit listeners such as the job queue's.)
                state.done.pop(pair.key, None)
                state.skipped[pair.key] = f"Step {pair.number}: {exc.message}"
                with ctx.transaction() as session:
                    _save(session, ctx, state)
                continue
            if call is not None:
                calls.append(call)
    except ExpertLoopError as exc:
        # No longer allowed (the account, the problem set's state): what this wave started
        # is not called, and says why.
        stop = Completion(text="", status=RunStatus.failed, error=f"Not run: {exc.message}")
        for call in calls:
            with ctx.transaction() as session:
                llm_runs.finish_run(session=session, run_id=call.run_id, completion=stop)
        raise
    if not calls:  # nothing in flight, so a cancellation here leaves nothing behind
        ctx.progress(state.count, None, f"{len(state.skipped)} skipped")
    return calls


def _start_pair(session: Session, ctx: JobContext, pair: Pair, state: _State) -> _Call | None:
    if pair.key in state.done:  # started by an attempt that died before the answer came
        step_run = session.get(StepRun, state.done[pair.key])
        run = session.get(ModelRun, step_run.model_run_id) if step_run else None
        endpoint = session.get(ModelEndpoint, pair.endpoint_id)
        if run is None or endpoint is None:
            return None
        return _Call(pair.key, run.id, endpoint, llm_runs.request_of(run))
    loaded = _load(session, int(ctx.payload["actor_id"]), int(ctx.payload["problem_set_id"]))
    step = session.get(Step, pair.step_id)
    revision = session.get(StepRevision, pair.revision_id)
    if step is None or revision is None:
        raise ValidationFailed("the step was deleted.")
    started, run, endpoint = step_runs.start(
        session=session, loaded=loaded, step=step, revision=revision, endpoint_id=pair.endpoint_id
    )
    state.done[pair.key] = started.id
    _save(session, ctx, state)  # in the run's own transaction: both or neither
    return _Call(pair.key, run.id, endpoint, llm_runs.request_of(run))


def _call_models(ctx: JobContext, hub: ModelHub, calls: list[_Call], state: _State) -> None:
    """Call every endpoint's models at once; store each answer as it arrives."""
    by_endpoint: dict[int, list[_Call]] = {}
    for call in calls:
        by_endpoint.setdefault(call.endpoint.id, []).append(call)

    def store(call: _Call, completion: Completion) -> None:
        with ctx.transaction() as session:
            llm_runs.finish_run(session=session, run_id=call.run_id, completion=completion)
        state.finished.add(call.key)
        ctx.progress(state.count, None, f"{len(state.finished)} runs finished")

    async def one_endpoint(group: list[_Call]) -> None:
        endpoint = group[0].endpoint

        def on_done(index: int, completion: Completion) -> None:
            store(group[index], completion)

        await run_batch(
            _HubClient(hub, endpoint),
            [c.request for c in group],
            concurrency=CONCURRENCY,
            rate_per_second=endpoint.rate_limit_per_second,
            on_done=on_done,
        )

    async def everything() -> None:
        async with asyncio.TaskGroup() as group:
            for calls_of_endpoint in by_endpoint.values():
                group.create_task(one_endpoint(calls_of_endpoint))

    try:
        _run_async(everything)
    except BaseExceptionGroup as failure:
        if failure.subgroup(JobCancelledError) is None:
            raise
        # Cancelled: the calls still in flight were dropped; their runs end as failed.
        stop = Completion(text="", status=RunStatus.failed, error="Cancelled before it answered.")
        for call in calls:
            if call.key not in state.finished:
                with ctx.transaction() as session:
                    llm_runs.finish_run(session=session, run_id=call.run_id, completion=stop)
        raise JobCancelledError from None


def _run_async(main: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to its end from synchronous code (in a thread if a loop runs here)."""

    async def wrapped() -> T:
        return await main()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrapped())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wrapped()).result()


def run_all(ctx: JobContext) -> dict[str, Any]:
    """Run every step's newest revision on the target models (the job's handler)."""
    actor_id, problem_set_id = int(ctx.payload["actor_id"]), int(ctx.payload["problem_set_id"])
    chosen = ctx.payload.get("endpoint_ids")
    hub = cast(ModelHub, ctx.services["hub"])
    with ctx.transaction() as session:
        loaded = _load(session, actor_id, problem_set_id)
        ids = _endpoint_ids(session, loaded, [int(i) for i in chosen] if chosen else None)
        waves = plan(session=session, problem_set_id=problem_set_id, endpoint_ids=ids)
        state = _State.load(session, ctx.job_id)
    total = sum(len(wave) for wave in waves)
    ctx.progress(state.count, total, "starting", force=True)
    for wave in waves:
        calls = _start_wave(ctx, wave, state)
        if calls:
            _call_models(ctx, hub, calls, state)
    with ctx.transaction() as session:
        statuses = _statuses(session, list(state.done.values()))
    counts = {s: sum(1 for v in statuses.values() if v == s) for s in ("ok", "failed")}
    return {
        **state.checkpoint(),
        "problem_set_id": problem_set_id,
        "runs": len(state.done),
        "ok": counts["ok"],
        "failed": counts["failed"],
        "incomplete": sum(1 for v in statuses.values() if v == RunStatus.incomplete.value),
        "skipped": len(state.skipped),
        "skipped_why": "; ".join(sorted(set(state.skipped.values())))[:1000],
        "problem_set_url": f"/problem-sets/{problem_set_id}",
    }


HANDLERS: dict[str, Handler] = {KIND: run_all}
