"""Run one job: claim it, call its handler with a context, record the outcome; reap dead ones.

Delivery is at least once: a message may arrive twice, or a worker may die mid-job. Claiming is
guarded (only a ``queued`` row is claimed, and each claim bumps ``attempts``, which fences every
later write), and handlers are idempotent, so a redo never leaves half a result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from expertloop.db import transaction
from expertloop.errors import ExpertLoopError
from expertloop.events import emit
from expertloop.jobs.events import JobFailed
from expertloop.jobs.models import Job, JobStatus
from expertloop.jobs.records import stale_before
from expertloop.types import utcnow

log = logging.getLogger("expertloop.jobs")

# How often a running job tells the database it is alive, and how often progress is written.
HEARTBEAT_SECONDS = 5.0
PROGRESS_EVERY_SECONDS = 0.5


class JobCancelledError(Exception):
    """Raised inside a handler when its job was cancelled; the runner records it."""


@dataclass
class JobContext:
    """What a handler gets: its job's payload, database access, progress reporting."""

    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    created_by_id: int | None
    organisation_id: int | None
    project_id: int | None
    session_factory: sessionmaker[Session]
    services: Mapping[str, Any] = field(default_factory=dict)
    _last_write: float = 0.0

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Open a session that commits when the block succeeds."""
        with transaction(self.session_factory) as session:
            yield session

    def progress(
        self, done: int, total: int | None = None, note: str = "", *, force: bool = False
    ) -> None:
        """Report progress (written at most twice a second); raise if the job was cancelled."""
        now = time.monotonic()
        if not force and now - self._last_write < PROGRESS_EVERY_SECONDS:
            return
        self._last_write = now
        with self.transaction() as session:
            values: dict[str, Any] = {"progress_done": done, "heartbeat_at": utcnow()}
            if total is not None:
                values["progress_total"] = total
            if note:
                values["progress_note"] = note[:300]
            session.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.attempts == self.attempt)
                .values(**values)
            )
            cancelled = session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id))
        if cancelled:
            raise JobCancelledError

    def check_cancelled(self) -> None:
        """Raise ``JobCancelledError`` if someone cancelled the job."""
        with self.transaction() as session:
            if session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)):
                raise JobCancelledError


Handler = Callable[[JobContext], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery of a job message."""

    job_id: int
    status: str  # claimed-and-finished status, or "skipped" when there was nothing to run
    retry_in: float | None = None


def _emit_failed(session: Session, job: Job) -> None:
    emit(
        JobFailed(
            actor_user_id=job.created_by_id,
            organisation_id=job.organisation_id,
            subject_type="job",
            subject_id=str(job.id),
            job_kind=job.kind,
            project_id=job.project_id,
            error=job.error,
        ),
        session=session,
    )


def _claim(factory: sessionmaker[Session], job_id: int) -> Job | None:
    with transaction(factory) as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status != JobStatus.queued:
            return None
        job.status = JobStatus.running
        job.attempts += 1
        now = utcnow()
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        session.flush()
        session.expunge(job)
        return job


def _finish(
    factory: sessionmaker[Session],
    job: Job,
    status: JobStatus,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
) -> bool:
    with transaction(factory) as session:
        current = session.get(Job, job.id, with_for_update=True)
        # Fenced: a reaper that re-queued this job (we were taken for dead) wins.
        if (
            current is None
            or current.status != JobStatus.running
            or current.attempts != job.attempts
        ):
            return False
        current.status = status
        current.finished_at = utcnow()
        current.result = result
        current.error = error[:4000]
        if status == JobStatus.done and current.progress_total is not None:
            current.progress_done = current.progress_total
        if status == JobStatus.failed:
            _emit_failed(session, current)
        return True


def _requeue(factory: sessionmaker[Session], job: Job, error: str) -> bool:
    with transaction(factory) as session:
        current = session.get(Job, job.id, with_for_update=True)
        if (
            current is None
            or current.status != JobStatus.running
            or current.attempts != job.attempts
        ):
            return False
        current.status = JobStatus.queued
        current.enqueued_at = utcnow()
        current.error = error[:4000]
        return True


class _Heartbeat:
    """Bump the job's ``heartbeat_at`` every few seconds while its handler runs."""

    def __init__(self, factory: sessionmaker[Session], job: Job) -> None:
        self._factory = factory
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"job-{job.id}-heartbeat", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT_SECONDS)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with transaction(self._factory) as session:
                    session.execute(
                        update(Job)
                        .where(Job.id == self._job.id, Job.attempts == self._job.attempts)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # a missed beat is survivable; the next one may get through
                log.warning("job %s: heartbeat failed", self._job.id, exc_info=True)


def run_job(
    *,
    job_id: int,
    session_factory: sessionmaker[Session],
    handlers: Mapping[str, Handler],
    services: Mapping[str, Any] | None = None,
    heartbeat: bool = True,
) -> Outcome:
    """Claim and run one job; return what became of it (never raises for a handler's fault)."""
    job = _claim(session_factory, job_id)
    if job is None:
        return Outcome(job_id, "skipped")
    handler = handlers.get(job.kind)
    if handler is None:
        _finish(
            session_factory,
            job,
            JobStatus.failed,
            error=f"No handler for jobs of kind {job.kind!r}.",
        )
        return Outcome(job_id, JobStatus.failed.value)
    ctx = JobContext(
        job_id=job.id,
        kind=job.kind,
        payload=dict(job.payload or {}),
        attempt=job.attempts,
        created_by_id=job.created_by_id,
        organisation_id=job.organisation_id,
        project_id=job.project_id,
        session_factory=session_factory,
        services=services or {},
    )
    beat = _Heartbeat(session_factory, job) if heartbeat else None
    try:
        if beat:
            beat.__enter__()
        try:
            result = handler(ctx)
        finally:
            if beat:
                beat.__exit__(None, None, None)
    except JobCancelledError:
        _finish(session_factory, job, JobStatus.cancelled, error="Cancelled.")
        return Outcome(job_id, JobStatus.cancelled.value)
    except ExpertLoopError as exc:
        # A refusal for a reason (bad input, not allowed, conflict): retrying cannot help.
        _finish(session_factory, job, JobStatus.failed, error=exc.message)
        return Outcome(job_id, JobStatus.failed.value)
    except Exception:
        log.exception("job %s (%s) failed on attempt %s", job.id, job.kind, job.attempts)
        if job.attempts < job.max_attempts:
            if _requeue(
                session_factory, job, f"Attempt {job.attempts} failed unexpectedly; retrying."
            ):
                return Outcome(job_id, JobStatus.queued.value, retry_in=2.0**job.attempts)
            return Outcome(job_id, "skipped")
        _finish(
            session_factory,
            job,
            JobStatus.failed,
            error=f"The job failed unexpectedly after {job.attempts} attempts (job {job.id}); "
            "an operator can find the cause in the worker's log.",
        )
        return Outcome(job_id, JobStatus.failed.value)
    _finish(session_factory, job, JobStatus.done, result=result or {})
    return Outcome(job_id, JobStatus.done.value)


def reap(*, session: Session, lease_seconds: int) -> list[int]:
    """Requeue or fail jobs whose worker died; return the ids to hand to the queue again.

    A running job silent for longer than the lease was lost with its worker: it is queued again
    while it has attempts left, otherwise failed. A queued job waiting longer than the lease may
    have lost its queue message (the queue was down, or the worker died holding it): it is handed
    to the queue again (a second message is harmless, claiming is guarded).
    """
    cutoff = stale_before(lease_seconds)
    requeue: list[int] = []
    dead = session.scalars(
        select(Job)
        .where(
            Job.status == JobStatus.running,
            or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < cutoff),
        )
        .with_for_update(skip_locked=True)
    ).all()
    for job in dead:
        if job.attempts < job.max_attempts:
            job.status = JobStatus.queued
            job.enqueued_at = utcnow()
            job.error = f"The worker stopped during attempt {job.attempts}; queued again."
            requeue.append(job.id)
        else:
            job.status = JobStatus.failed
            job.finished_at = utcnow()
            job.error = (
                f"The worker stopped during the last attempt ({job.attempts} of "
                f"{job.max_attempts}); nothing of it was kept."
            )
            _emit_failed(session, job)
    waiting = session.scalars(
        select(Job.id).where(Job.status == JobStatus.queued, Job.enqueued_at < cutoff)
    ).all()
    for job_id in waiting:
        if job_id not in requeue:
            requeue.append(job_id)
    if waiting:
        session.execute(update(Job).where(Job.id.in_(waiting)).values(enqueued_at=utcnow()))
    session.flush()
    return requeue
