"""The job runner: guarded claims, outcomes, retries, cancellation, and the reaper."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from expertloop.errors import ValidationFailed
from expertloop.jobs import records
from expertloop.jobs.models import Job, JobStatus
from expertloop.jobs.queue import JobQueue
from expertloop.jobs.runner import JobContext, reap, run_job
from expertloop.settings import Settings
from expertloop.types import utcnow
from tests.factories import World


def _job(db: Session, world: World, kind: str = "test.echo", **fields: Any) -> Job:
    job = Job(
        kind=kind,
        payload=fields.pop("payload", {"n": 3}),
        created_by_id=world.client_a.id,
        organisation_id=world.org_a.id,
        max_attempts=fields.pop("max_attempts", 3),
        **fields,
    )
    db.add(job)
    db.commit()
    return job


def _echo(ctx: JobContext) -> dict[str, Any]:
    for i in range(ctx.payload["n"]):
        ctx.progress(i + 1, ctx.payload["n"], f"item {i + 1}", force=True)
    return {"items": ctx.payload["n"], "attempt": ctx.attempt}


def _run(factory: sessionmaker[Session], job: Job, handlers: dict[str, Any]) -> str:
    return run_job(
        job_id=job.id, session_factory=factory, handlers=handlers, heartbeat=False
    ).status


def test_a_job_runs_once_and_records_progress_and_result(
    db: Session, session_factory: sessionmaker[Session], world: World
) -> None:
    job = _job(db, world)
    assert _run(session_factory, job, {"test.echo": _echo}) == "done"
    # A second delivery of the same message finds nothing to do (at-least-once delivery).
    assert _run(session_factory, job, {"test.echo": _echo}) == "skipped"
    db.refresh(job)
    assert job.status == JobStatus.done
    assert job.result == {"items": 3, "attempt": 1}
    assert (job.progress_done, job.progress_total, job.progress_note) == (3, 3, "item 3")
    assert job.attempts == 1
    assert job.started_at is not None and job.finished_at is not None


def test_a_refusal_fails_at_once_with_its_message(
    db: Session, session_factory: sessionmaker[Session], world: World
) -> None:
    def refuse(ctx: JobContext) -> None:
        raise ValidationFailed("The project has no accepted problem sets.")

    job = _job(db, world)
    assert _run(session_factory, job, {"test.echo": refuse}) == "failed"
    db.refresh(job)
    assert job.status == JobStatus.failed
    assert job.error == "The project has no accepted problem sets."
    assert job.attempts == 1


def test_an_unexpected_error_is_retried_then_fails_without_a_traceback(
    db: Session, session_factory: sessionmaker[Session], world: World
) -> None:
    calls: list[int] = []

    def crash(ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise RuntimeError("secret internals /etc/passwd")

    job = _job(db, world, max_attempts=2)
    first = run_job(
        job_id=job.id,
        session_factory=session_factory,
        handlers={"test.echo": crash},
        heartbeat=False,
    )
    assert first.status == "queued" and first.retry_in is not None
    assert _run(session_factory, job, {"test.echo": crash}) == "failed"
    db.refresh(job)
    assert calls == [1, 2]
    assert job.status == JobStatus.failed
    assert "after 2 attempts" in job.error
    assert "passwd" not in job.error and "RuntimeError" not in job.error


def test_a_job_of_an_unknown_kind_fails(
    db: Session, session_factory: sessionmaker[Session], world: World
) -> None:
    job = _job(db, world, kind="test.nobody")
    assert _run(session_factory, job, {}) == "failed"
    db.refresh(job)
    assert "No handler" in job.error


def test_cancelling_a_running_job_stops_it_at_its_next_progress_report(
    db: Session, session_factory: sessionmaker[Session], world: World
) -> None:
    seen: list[int] = []

    def long(ctx: JobContext) -> None:
        for i in range(10):
            if i == 2:
                with ctx.transaction() as s:
                    records.cancel_job(session=s, job_id=ctx.job_id, actor=world.client_a)
            seen.append(i)
            ctx.progress(i, 10, force=True)

    job = _job(db, world)
    assert _run(session_factory, job, {"test.echo": long}) == "cancelled"
    db.refresh(job)
    assert job.status == JobStatus.cancelled
    assert seen == [0, 1, 2]


def test_the_reaper_requeues_a_dead_workers_job_and_fails_it_after_the_last_attempt(
    db: Session, world: World
) -> None:
    stale = utcnow() - dt.timedelta(minutes=5)
    alive = _job(db, world, status=JobStatus.running, attempts=1, heartbeat_at=utcnow())
    dead = _job(db, world, status=JobStatus.running, attempts=1, heartbeat_at=stale)
    last = _job(db, world, status=JobStatus.running, attempts=3, heartbeat_at=stale)
    lost = _job(db, world, status=JobStatus.queued, enqueued_at=stale)
    fresh = _job(db, world, status=JobStatus.queued, enqueued_at=utcnow())
    ids = reap(session=db, lease_seconds=60)
    db.commit()
    assert sorted(ids) == sorted([dead.id, lost.id])
    for job in (alive, dead, last, lost, fresh):
        db.refresh(job)
    assert alive.status == JobStatus.running
    assert dead.status == JobStatus.queued and "stopped" in dead.error
    assert last.status == JobStatus.failed and "last attempt" in last.error
    assert fresh.status == JobStatus.queued


def test_a_worker_taken_for_dead_cannot_overwrite_the_redo(
    db: Session, session_factory: sessionmaker[Session], world: World
) -> None:
    """Fencing: the first attempt ends after the reaper queued the job again; it is ignored."""

    def slow(ctx: JobContext) -> dict[str, Any]:
        with ctx.transaction() as s:
            s.get(Job, ctx.job_id).heartbeat_at = utcnow() - dt.timedelta(minutes=5)  # type: ignore[union-attr]
        with ctx.transaction() as s:
            assert reap(session=s, lease_seconds=60) == [ctx.job_id]
        return {"from": "first attempt"}

    job = _job(db, world)
    assert _run(session_factory, job, {"test.echo": slow}) == "done"
    db.refresh(job)
    assert job.status == JobStatus.queued  # the redo is pending; the stale result was dropped
    assert job.result is None


def test_submit_enqueues_after_commit_only_and_is_idempotent_by_key(
    db: Session, session_factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    ran: list[int] = []

    def record(ctx: JobContext) -> None:
        ran.append(ctx.job_id)

    queue = JobQueue(settings, session_factory, {"test.echo": record})
    with session_factory() as s:
        records.submit(session=s, queue=queue, kind="test.echo", payload={}, actor=None)
        s.rollback()
    assert ran == []  # a rolled-back job is never run
    with session_factory() as s:
        job = records.submit(
            session=s, queue=queue, kind="test.echo", payload={}, actor=None, idempotency_key="k1"
        )
        again = records.submit(
            session=s, queue=queue, kind="test.echo", payload={}, actor=None, idempotency_key="k1"
        )
        assert again.id == job.id
        assert ran == []
        s.commit()
    assert ran == [job.id]
    with pytest.raises(ValidationFailed):
        records.submit(session=db, queue=queue, kind="test.unknown", payload={}, actor=None)


def test_a_savepoint_release_does_not_hand_the_job_over(
    session_factory: sessionmaker[Session], world: World, settings: Settings
) -> None:
    ran: list[int] = []
    queue = JobQueue(settings, session_factory, {"test.echo": lambda ctx: ran.append(ctx.job_id)})
    with session_factory() as s:
        with s.begin_nested():
            job = records.submit(session=s, queue=queue, kind="test.echo", payload={}, actor=None)
        assert ran == []  # released the savepoint, the transaction is still open
        s.commit()
    assert ran == [job.id]
