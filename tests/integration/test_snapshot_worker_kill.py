"""A real worker process is SIGKILLed while it builds a snapshot: nobody sees half a snapshot,
and the next worker builds it whole once the dead worker's lease has run out.

The database is a SQLite file migrated by ``expertloop db upgrade``; the queue is the embedded
SQLite one in the data directory; the workers are ``expertloop worker`` processes.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from expertloop.datasets import snapshots
from expertloop.datasets.folder import SnapshotFilters
from expertloop.datasets.models import Snapshot, SnapshotStatus
from expertloop.db import make_engine, make_session_factory, transaction
from expertloop.jobs.models import Job, JobStatus
from expertloop.llm.hub import ModelHub
from expertloop.settings import Settings
from expertloop.types import utcnow
from expertloop.web.wiring import build_queue
from tests.conftest import TEST_SECRET
from tests.factories import make_world, scripted_target
from tests.snapshot_data import accepted_problem_set

LEASE = 5
# Enough accepted problem sets that the build takes a few seconds (~35 ms each here).
PROBLEM_SETS = 120
EXPERTLOOP = str(Path(sys.executable).parent / "expertloop")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("EXPERTLOOP_") or k == "EXPERTLOOP_TEST_DATABASE_URL"
    }
    values.pop("EXPERTLOOP_TEST_DATABASE_URL", None)
    values.update(
        {
            "EXPERTLOOP_ENV": "test",
            "EXPERTLOOP_DATA_DIR": str(tmp_path),
            "EXPERTLOOP_SECRET_KEY": TEST_SECRET,
            "EXPERTLOOP_JOBS_LEASE_SECONDS": str(LEASE),
            "EXPERTLOOP_JOBS_MAX_ATTEMPTS": "3",
        }
    )
    return values


@pytest.fixture
def factory(
    tmp_path: Path, env: dict[str, str]
) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    subprocess.run([EXPERTLOOP, "db", "upgrade"], env=env, check=True, capture_output=True)
    settings = Settings(
        env="test", data_dir=tmp_path, secret_key=TEST_SECRET, jobs_lease_seconds=LEASE
    )
    engine = make_engine(settings)
    try:
        yield settings, make_session_factory(engine)
    finally:
        engine.dispose()


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(
        [EXPERTLOOP, "worker", "--threads", "1"], env=env, stdout=handle, stderr=handle
    )


def _job(factory: sessionmaker[Session], job_id: int) -> Job:
    with transaction(factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def test_a_worker_killed_mid_build_leaves_no_half_snapshot_and_the_redo_builds_it_whole(
    factory: tuple[Settings, sessionmaker[Session]], env: dict[str, str], tmp_path: Path
) -> None:
    settings, sessions = factory
    hub = ModelHub.from_settings(settings)
    with transaction(sessions) as db:
        world = make_world(db)
        endpoint = scripted_target(db, hub, world.project_a, name="Scripted A")
        for n in range(PROBLEM_SETS):
            accepted_problem_set(
                db, world.project_a, world.expert_a, world.reviewer_a, endpoint, title=f"PS {n}"
            )
    queue = build_queue(settings, sessions, hub)
    with transaction(sessions) as db:
        snap = snapshots.create_snapshot(
            session=db,
            queue=queue,
            actor=world.client_a,
            project_id=world.project_a.id,
            filters=SnapshotFilters(),
        )
        snapshot_id, job_id, relative = snap.id, snap.job_id, snap.path
    assert job_id is not None
    root = settings.resolved_snapshots_dir()
    final = root / relative
    log = tmp_path / "worker.log"

    first = _worker(env, log)
    try:
        # Generous: the CLI alone takes seconds to import on a loaded machine.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = _job(sessions, job_id)
            if job.status == JobStatus.running and job.progress_done > 0:
                break
            assert job.status in (JobStatus.queued, JobStatus.running), job.error
            assert first.poll() is None, log.read_text()
            time.sleep(0.02)
        else:
            pytest.fail("the build never reported progress: " + log.read_text())
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()

    # Killed mid-build: no half snapshot anywhere, only the dead attempt's temporary folder.
    with transaction(sessions) as db:
        row = db.get(Snapshot, snapshot_id)
        assert row is not None
        assert (row.status, row.manifest, row.ready_at) == (SnapshotStatus.building, None, None)
    assert not final.exists()
    job = _job(sessions, job_id)
    assert job.status == JobStatus.running and job.attempts == 1, "finished before the kill"

    # Once the lease is over, a new worker's start-up reap queues the job again and builds it.
    assert job.heartbeat_at is not None
    wait = (job.heartbeat_at - utcnow()).total_seconds() + LEASE + 0.5
    time.sleep(max(0.0, wait))
    second = _worker(env, log)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            job = _job(sessions, job_id)
            if job.finished:
                break
            assert second.poll() is None, log.read_text()
            time.sleep(0.2)
        assert job.status == JobStatus.done, (job.status, job.error, log.read_text())
        assert job.attempts == 2
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(timeout=20)
        except subprocess.TimeoutExpired:
            second.kill()

    with transaction(sessions) as db:
        row = db.get(Snapshot, snapshot_id)
        assert row is not None and row.status == SnapshotStatus.ready and row.manifest
        files = (row.counts or {})["files"]
        problem_sets = row.counts.get("problem_sets")
    assert problem_sets in (None, PROBLEM_SETS)
    assert files
    for f in files:
        assert hashlib.sha256((final / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    assert (final / "manifest.json").is_file() and (final / "README.md").is_file()
    assert not list(root.glob(".building-*")), list(root.iterdir())
