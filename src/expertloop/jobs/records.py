"""Submit, find, list and cancel jobs (the records users follow); services only ``flush()``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.errors import Conflict, NotFound
from expertloop.events import emit
from expertloop.jobs.events import JobCancelled, JobSubmitted
from expertloop.jobs.models import FINISHED, Job, JobStatus
from expertloop.jobs.policies import can_cancel_job, can_see_job
from expertloop.types import utcnow

if TYPE_CHECKING:
    from expertloop.jobs.queue import JobQueue

PENDING_KEY = "expertloop.jobs.pending"
HOOKED_KEY = "expertloop.jobs.hooked"


def submit(
    *,
    session: Session,
    queue: JobQueue,
    kind: str,
    payload: dict[str, Any],
    actor: User | None,
    title: str = "",
    organisation_id: int | None = None,
    project_id: int | None = None,
    total: int | None = None,
    idempotency_key: str | None = None,
) -> Job:
    """Record a job and hand it to the queue once the caller's transaction commits.

    A job submitted with an ``idempotency_key`` that already exists is returned as it is.
    """
    queue.check_kind(kind)
    if idempotency_key is not None:
        existing = session.scalar(select(Job).where(Job.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        title=title[:300],
        payload=payload,
        created_by_id=actor.id if actor else None,
        organisation_id=organisation_id,
        project_id=project_id,
        progress_total=total,
        idempotency_key=idempotency_key,
        max_attempts=queue.max_attempts,
        status=JobStatus.queued,
        enqueued_at=utcnow(),
    )
    session.add(job)
    session.flush()
    emit(
        JobSubmitted(
            actor_user_id=actor.id if actor else None,
            organisation_id=organisation_id,
            subject_type="job",
            subject_id=str(job.id),
            job_kind=kind,
            project_id=project_id,
        ),
        session=session,
    )
    enqueue_after_commit(session=session, queue=queue, job_id=job.id)
    return job


def enqueue_after_commit(*, session: Session, queue: JobQueue, job_id: int) -> None:
    """Hand ``job_id`` to the queue when ``session`` commits (never for a rolled-back job).

    A job whose message is lost anyway (the queue was down) is queued again by the reaper.
    """
    if not session.info.get(HOOKED_KEY):
        session.info[HOOKED_KEY] = True

        def _after_commit(committed: Session) -> None:
            # SQLAlchemy fires after_commit for a savepoint's release too: wait for the whole
            # transaction (a job inside a savepoint rolled back later is simply never found).
            if committed.in_nested_transaction():
                return
            for queued_queue, queued_id in committed.info.pop(PENDING_KEY, []):
                queued_queue.enqueue(queued_id)

        def _after_rollback(rolled_back: Session, previous: SessionTransaction) -> None:
            # Only the whole transaction's rollback drops its jobs, not a savepoint's.
            if previous.parent is None:
                rolled_back.info.pop(PENDING_KEY, None)

        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_rollback)
    session.info.setdefault(PENDING_KEY, []).append((queue, job_id))


def get_job(*, session: Session, job_id: int, actor: User) -> Job:
    """Return a job the actor may see (404 otherwise)."""
    job = session.get(Job, job_id)
    if job is None or not can_see_job(actor, job):
        raise NotFound("No such job.")
    return job


def _visible(actor: User) -> Any:
    if is_operator(actor):
        return None
    mine = Job.created_by_id == actor.id
    if actor.role == Role.client:
        return or_(mine, Job.organisation_id == actor.organisation_id)
    return mine


def list_jobs(
    *,
    session: Session,
    actor: User,
    limit: int = 50,
    offset: int = 0,
    kind: str | None = None,
    status: JobStatus | None = None,
    project_id: int | None = None,
) -> tuple[list[Job], int]:
    """Return the jobs the actor may see, newest first, and how many there are."""
    query = select(Job)
    condition = _visible(actor)
    if condition is not None:
        query = query.where(condition)
    if kind:
        query = query.where(Job.kind == kind)
    if status:
        query = query.where(Job.status == status)
    if project_id is not None:
        query = query.where(Job.project_id == project_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total)


def cancel_job(*, session: Session, job_id: int, actor: User) -> Job:
    """Cancel a queued job at once, or ask a running one to stop at its next progress report."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or not can_cancel_job(actor, job):
        raise NotFound("No such job.")
    if job.status in FINISHED:
        raise Conflict(f"The job has already ended ({job.status.value}).")
    if job.status == JobStatus.queued:
        job.status = JobStatus.cancelled
        job.finished_at = utcnow()
    job.cancel_requested = True
    session.flush()
    emit(
        JobCancelled(
            actor_user_id=actor.id,
            organisation_id=job.organisation_id,
            subject_type="job",
            subject_id=str(job.id),
            job_kind=job.kind,
        ),
        session=session,
    )
    return job


def stale_before(lease_seconds: int) -> dt.datetime:
    """Return the moment before which a silent running job is taken to be dead."""
    return utcnow() - dt.timedelta(seconds=lease_seconds)
