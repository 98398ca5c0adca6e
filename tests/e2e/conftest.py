"""Browser tests: the real app served by uvicorn on a free port, driven by headless Chromium.

The live app gets its own database (never the rolled-back test transaction the API tests use):
a SQLite file in a temporary directory, or, when EXPERTLOOP_TEST_DATABASE_URL points at
PostgreSQL, a database named ``<NAME>_e2e`` created here and dropped at the end.

Chromium is the distribution's (/usr/bin/chromium); Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from expertloop.cli.demo_seed import seed_demo
from expertloop.db import make_engine, make_session_factory, transaction, upgrade
from expertloop.llm.hub import ModelHub
from expertloop.settings import Settings
from expertloop.web.app import create_app
from tests.conftest import make_settings

T = TypeVar("T")
E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SERVER_START_TIMEOUT = 20.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as a browser test (deselect with -m 'not browser')."""
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- PostgreSQL: a separate database for the live server -------------------------------------


def _pg_admin_connect(url: str):  # type: ignore[no-untyped-def]
    """Open an autocommit connection to the server's ``postgres`` database."""
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


def _pg_drop(conn, name: str) -> None:  # type: ignore[no-untyped-def]
    from psycopg import sql

    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _pg_create(url: str, name: str) -> None:
    from psycopg import sql

    with _pg_admin_connect(url) as conn:
        _pg_drop(conn, name)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _pg_teardown(url: str, name: str) -> None:
    with _pg_admin_connect(url) as conn:
        _pg_drop(conn, name)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve a freshly migrated, demo-seeded app; yield its base URL."""
    tmp = tmp_path_factory.mktemp("e2e")
    base_pg = os.environ.get("EXPERTLOOP_TEST_DATABASE_URL")
    pg_name: str | None = None
    if base_pg:
        base = make_url(base_pg)
        pg_name = f"{base.database}_e2e"
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:  # one database per xdist worker, or they would drop each other's
            pg_name = f"{pg_name}_{worker}"
        _pg_create(base_pg, pg_name)
        url = base.set(database=pg_name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp / 'e2e.sqlite3'}"

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    try:
        # Every browser test logs in from 127.0.0.1: the default per-address limit (50 attempts
        # in 15 minutes) would refuse the later tests' logins. The limits are tested in the API.
        settings = make_settings(
            url, tmp, base_url=base_url, login_limit_per_address="100000/15minutes"
        )
        engine = make_engine(settings)
        try:
            upgrade(engine)
            with transaction(make_session_factory(engine)) as session:
                assert seed_demo(
                    session=session, hub=ModelHub.from_settings(settings), settings=settings
                ), "the fresh e2e database already had users"
        finally:
            engine.dispose()

        app = create_app(settings)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                pytest.fail("The live server thread died during start-up (see the log above).")
            if time.monotonic() > deadline:
                pytest.fail(f"The live server did not start within {SERVER_START_TIMEOUT}s.")
            time.sleep(0.05)
        yield base_url
    finally:
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=15)
        if pg_name is not None and base_pg:
            _pg_teardown(base_pg, pg_name)


@contextmanager
def module_server(
    tmp: Path,
    name: str,
    seed: Callable[[Session, Settings], T],
    *,
    network: bool = False,
) -> Iterator[tuple[str, T]]:
    """Serve an app of a test module's own: migrated, demo-seeded, then ``seed``-ed.

    For tests that need data no page can make yet, or to know the data directory (``tmp``).
    ``network`` seeds the demo's expert network too. Yields (base URL, what ``seed`` returned);
    on PostgreSQL the database ``<NAME>_e2e_<name>`` is made here and dropped at the end.
    """
    base_pg = os.environ.get("EXPERTLOOP_TEST_DATABASE_URL")
    pg_name = None
    if base_pg:
        pg_name = f"{make_url(base_pg).database}_e2e_{name}"
        _pg_create(base_pg, pg_name)
        url = make_url(base_pg).set(database=pg_name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp / f'{name}.sqlite3'}"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(url, tmp, base_url=base_url, login_limit_per_address="1000/15minutes")
    engine = make_engine(settings)
    try:
        upgrade(engine)
        with transaction(make_session_factory(engine)) as session:
            seed_demo(
                session=session,
                hub=ModelHub.from_settings(settings),
                settings=settings if network else None,
            )
            extra = seed(session, settings)
    finally:
        engine.dispose()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name=f"e2e-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert server.started, f"the {name} test server did not start"
        yield base_url, extra
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if pg_name is not None and base_pg:
            _pg_teardown(base_pg, pg_name)


@contextmanager
def page_at(browser: Any, base_url: str) -> Iterator[Any]:
    """A fresh browser context (own cookies) at ``base_url``, 1280 x 900, 10 s timeouts."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base_url)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


# --- Browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium from the distribution (CI installs it; a missing one is a failure).

    Module scope on purpose: Playwright's sync API keeps an event loop running in the main
    thread while it is started, which would break later tests that call ``asyncio.run``.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install the distribution package "
            "(apt-get install chromium); the browser tests do not download a browser."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live_server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh browser context (own cookies) per test, pointed at the live server."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    """Where the browser tests save screenshots (test-output/ is git-ignored)."""
    path = REPO_ROOT / "test-output" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
