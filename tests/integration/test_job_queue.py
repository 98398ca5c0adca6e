"""Jobs through a real queue and real worker threads: the SQLite file queue and Redis.

Each test uses its own SQLite database file (committed data, not the rolled-back test
transaction), since the worker threads open their own connections.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from expertloop.db import make_engine, make_session_factory, transaction, upgrade
from expertloop.jobs import records
from expertloop.jobs.models import Job, JobStatus
from expertloop.jobs.queue import JobQueue
from expertloop.jobs.runner import JobContext
from expertloop.settings import Settings
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def file_db(tmp_path: Path) -> Iterator[tuple[Path, sessionmaker[Session]]]:
    settings = make_settings(f"sqlite:///{tmp_path / 'jobs.sqlite3'}", tmp_path)
    engine = make_engine(settings)
    upgrade(engine)
    yield tmp_path, make_session_factory(engine)
    engine.dispose()


def _square(ctx: JobContext) -> dict[str, Any]:
    n = int(ctx.payload["n"])
    for i in range(n):
        ctx.progress(i + 1, n, force=True)
    return {"square": n * n}


def _wait(factory: sessionmaker[Session], job_id: int, timeout: float = 30.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(factory) as s:
            job = s.get(Job, job_id)
            assert job is not None
            if job.finished:
                s.expunge(job)
                return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def _roundtrip(settings: Settings, factory: sessionmaker[Session]) -> list[Job]:
    queue = JobQueue(settings, factory, {"test.square": _square})
    assert not queue.immediate
    with transaction(factory) as s:
        ids = [
            records.submit(
                session=s, queue=queue, kind="test.square", payload={"n": n}, actor=None
            ).id
            for n in (2, 3, 4)
        ]
    consumer = queue.start_in_process(workers=2)
    try:
        return [_wait(factory, job_id) for job_id in ids]
    finally:
        consumer.close()


def test_sqlite_queue_file_in_the_data_directory(
    file_db: tuple[Path, sessionmaker[Session]],
) -> None:
    data_dir, factory = file_db
    settings = make_settings("sqlite://", data_dir, jobs_immediate=False)
    jobs = _roundtrip(settings, factory)
    assert (data_dir / "queue.sqlite3").exists()
    assert [j.status for j in jobs] == [JobStatus.done] * 3
    assert [j.result for j in jobs] == [{"square": 4}, {"square": 9}, {"square": 16}]
    assert [(j.progress_done, j.progress_total) for j in jobs] == [(2, 2), (3, 3), (4, 4)]


def test_redis_queue_same_code_settings_only(
    file_db: tuple[Path, sessionmaker[Session]],
) -> None:
    data_dir, factory = file_db
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # Redis runs on this machine (scripts/test starts it when it is down)
    settings = make_settings("sqlite://", data_dir, jobs_immediate=False, redis_url=REDIS_URL)
    queue_probe = JobQueue(settings, factory, {})
    queue_probe.huey.flush()
    jobs = _roundtrip(settings, factory)
    assert not (data_dir / "queue.sqlite3").exists()
    assert [j.result for j in jobs] == [{"square": 4}, {"square": 9}, {"square": 16}]
    queue_probe.huey.flush()


def test_a_lost_queue_message_is_sent_again_by_the_reaper(
    file_db: tuple[Path, sessionmaker[Session]],
) -> None:
    """A job recorded while the queue was unreachable still runs once a worker reaps."""
    data_dir, factory = file_db
    settings = make_settings("sqlite://", data_dir, jobs_immediate=False, jobs_lease_seconds=5)
    queue = JobQueue(settings, factory, {"test.square": _square})
    with transaction(factory) as s:
        job = Job(kind="test.square", payload={"n": 5}, title=f"lost {uuid.uuid4()}")
        s.add(job)
    time.sleep(5.2)  # older than the lease, and no message was ever enqueued
    consumer = queue.start_in_process(workers=1)  # reaps at start
    try:
        done = _wait(factory, job.id)
    finally:
        consumer.close()
    assert done.status == JobStatus.done and done.result == {"square": 25}
