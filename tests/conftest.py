"""Shared fixtures: a migrated database (SQLite or PostgreSQL), a transaction rolled back per
test, the app wired to that transaction, and API clients logged in as someone.

Set EXPERTLOOP_TEST_DATABASE_URL to run on PostgreSQL (scripts/test does, with a fresh database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from expertloop.accounts.models import User
from expertloop.db import make_engine, upgrade
from expertloop.settings import Settings
from expertloop.web.app import create_app
from tests.factories import PASSWORD, World, make_world

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def database_url(tmp_root: Path) -> str:
    """Return the test database URL: PostgreSQL when configured, else a fresh SQLite file."""
    return (
        os.environ.get("EXPERTLOOP_TEST_DATABASE_URL") or f"sqlite:///{tmp_root / 'test.sqlite3'}"
    )


def make_settings(url: str, tmp_root: Path, **overrides: object) -> Settings:
    """Return test settings for ``url``."""
    values: dict[str, object] = {
        "env": "test",
        "database_url": url,
        "data_dir": tmp_root,
        "secret_key": TEST_SECRET,
        "base_url": "http://testserver",
        # Model stubs of the tests listen on loopback; nothing else private is allowed.
        "private_endpoint_networks": ["127.0.0.1/32"],
        "llm_retry_base_delay": 0.01,
        "llm_retry_max_delay": 0.1,
        "llm_read_timeout": 30.0,
        # Background jobs run inside the request that submits them, on the test's transaction.
        "jobs_immediate": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def db_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db")


@pytest.fixture(scope="session")
def engine(db_root: Path) -> Iterator[Engine]:
    """A database migrated once per run with the real migrations."""
    settings = make_settings(database_url(db_root), db_root)
    engine = make_engine(settings)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits become savepoints of the test's transaction."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """The test's own session (shares the rolled-back transaction with the app)."""
    with session_factory() as session:
        yield session


@pytest.fixture
def settings(db_root: Path) -> Settings:
    return make_settings(database_url(db_root), db_root)


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    return create_app(settings, session_factory=session_factory)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def world(db: Session) -> World:
    """Two tenants, the operator, staffed experts; committed so the app sees it."""
    w = make_world(db)
    db.commit()
    return w


class ApiClient:
    """A TestClient logged in through the API, sending the CSRF header on changes."""

    def __init__(self, client: TestClient, user: User) -> None:
        self.client = client
        self.user = user
        response = client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]

    def request(self, method: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        headers.setdefault("X-CSRF-Token", self.csrf)
        return self.client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]

    def get(self, url: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("PUT", url, **kw)

    def patch(self, url: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: object):  # type: ignore[no-untyped-def]
        return self.request("DELETE", url, **kw)


@pytest.fixture
def login_as(app: FastAPI):  # type: ignore[no-untyped-def]
    """Return a function that logs a user in on a fresh client (one cookie jar each)."""
    clients: list[TestClient] = []

    def _login(user: User) -> ApiClient:
        c = TestClient(app, base_url="http://testserver", raise_server_exceptions=False)
        clients.append(c)
        return ApiClient(c, user)

    yield _login
    for c in clients:
        c.close()
