"""Two snapshots asked for at the same moment get two numbers (on SQLite and PostgreSQL).

This needs transactions that really commit, so it runs on a database of its own: a SQLite file,
or (with EXPERTLOOP_TEST_DATABASE_URL) a PostgreSQL database created and dropped here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from huey import MemoryHuey
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from expertloop.datasets import snapshots
from expertloop.datasets.folder import SnapshotFilters
from expertloop.datasets.models import Snapshot
from expertloop.db import make_engine, make_session_factory, transaction, upgrade
from expertloop.jobs.queue import JobQueue
from expertloop.llm.hub import ModelHub
from expertloop.settings import Settings
from expertloop.web.wiring import job_handlers
from tests.conftest import make_settings
from tests.factories import World, make_world


def _pg_admin(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    u = make_url(url)
    return psycopg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        dbname="postgres",
        autocommit=True,
    )


@pytest.fixture
def committed(tmp_path: Path) -> Iterator[tuple[Settings, sessionmaker[Session], World]]:
    base = os.environ.get("EXPERTLOOP_TEST_DATABASE_URL")
    name = None
    if base:
        name = f"{make_url(base).database}_numbering"
        with _pg_admin(base) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'numbering.sqlite3'}"
    settings = make_settings(url, tmp_path, jobs_immediate=False)
    engine = make_engine(settings)
    try:
        upgrade(engine)
        factory = make_session_factory(engine)
        with transaction(factory) as db:
            world = make_world(db)
        yield settings, factory, world
    finally:
        engine.dispose()
        if base and name:
            with _pg_admin(base) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_concurrent_creates_take_the_next_number(
    committed: tuple[Settings, sessionmaker[Session], World],
) -> None:
    settings, factory, world = committed
    # A queue that records jobs and runs none: only the numbering is under test.
    queue = JobQueue(
        settings,
        factory,
        job_handlers(),
        services={"hub": ModelHub.from_settings(settings), "settings": settings},
        huey=MemoryHuey("numbering", immediate=False),
    )
    first_flushed = threading.Event()
    numbers: list[int] = []
    errors: list[BaseException] = []

    def create(wait_for: threading.Event | None, hold: bool) -> None:
        try:
            if wait_for is not None:
                assert wait_for.wait(10)
            with transaction(factory) as db:
                snap = snapshots.create_snapshot(
                    session=db,
                    queue=queue,
                    actor=world.client_a,
                    project_id=world.project_a.id,
                    filters=SnapshotFilters(),
                )
                numbers.append(snap.number)
                if hold:
                    # Number 1 is taken but not committed while the other create starts.
                    first_flushed.set()
                    threading.Event().wait(0.7)
        except BaseException as exc:
            errors.append(exc)
            first_flushed.set()

    a = threading.Thread(target=create, args=(None, True))
    b = threading.Thread(target=create, args=(first_flushed, False))
    a.start()
    b.start()
    a.join(20)
    b.join(20)
    assert not errors, errors
    assert sorted(numbers) == [1, 2]
    with transaction(factory) as db:
        rows = db.scalars(select(Snapshot).order_by(Snapshot.number)).all()
        assert [(s.number, s.path) for s in rows] == [
            (1, f"p{world.project_a.id}/s1"),
            (2, f"p{world.project_a.id}/s2"),
        ]
        assert len({s.job_id for s in rows}) == 2
