"""Matching in a real browser: the operator searches with free text and a filter, reads why each
expert matched (highlighted words), ticks experts with the keyboard and invites them to a project
in place (no reload): the approved one is staffed, the one still in vetting is refused with the
reason. The live server is this module's own (demo-seeded, plus indexed experts)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.engine import make_url

from expertloop.accounts.models import Role
from expertloop.cli.demo_seed import seed_demo
from expertloop.db import make_engine, make_session_factory, transaction, upgrade
from expertloop.experts import search_index
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    InvitationKind,
    ProfileDomain,
    VettingState,
)
from expertloop.llm.hub import ModelHub
from expertloop.projects.models import Project
from expertloop.web.app import create_app
from tests.conftest import make_settings
from tests.e2e.conftest import SERVER_START_TIMEOUT, _free_port, _pg_create, _pg_teardown
from tests.e2e.test_login_roles import first_login, log_in
from tests.factories import make_user

pytestmark = pytest.mark.browser


def _seed(session) -> str:  # type: ignore[no-untyped-def]
    """Two glaciologists (one approved, one in the interview) and a volcanologist; indexed."""
    for name, headline, state in [
        ("Ingrid Glacier", "Glaciologist, ice cores from Greenland", VettingState.approved),
        ("Tomas Firn", "Glaciologist in Svalbard", VettingState.interview),
        ("Lava Person", "Volcanologist", VettingState.approved),
    ]:
        user = make_user(session, Role.expert, name=name)
        session.add(
            ExpertProfile(user_id=user.id, headline=headline, country="NO", vetting_state=state)
        )
        session.flush()
        session.add(ProfileDomain(user_id=user.id, domain="physics", specialty=""))
        session.add(
            Candidate(
                email=user.email,
                name=name,
                user_id=user.id,
                state=state,
                domain="physics",
                source=InvitationKind.operator,
            )
        )
        session.flush()
        search_index.reindex(session, user.id)
    project = session.scalars(select(Project).order_by(Project.id)).first()
    assert project is not None
    return project.name


@pytest.fixture(scope="module")
def match_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Serve a demo-seeded app with indexed experts; yield (base URL, a project's name)."""
    tmp = tmp_path_factory.mktemp("e2e-matching")
    base_pg = os.environ.get("EXPERTLOOP_TEST_DATABASE_URL")
    pg_name = None
    if base_pg:
        pg_name = f"{make_url(base_pg).database}_e2e_matching"
        _pg_create(base_pg, pg_name)
        url = make_url(base_pg).set(database=pg_name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp / 'matching.sqlite3'}"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(url, tmp, base_url=base_url, login_limit_per_address="1000/15minutes")
    engine = make_engine(settings)
    try:
        upgrade(engine)
        with transaction(make_session_factory(engine)) as session:
            seed_demo(session=session, hub=ModelHub.from_settings(settings))
            project_name = _seed(session)
    finally:
        engine.dispose()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="e2e-matching", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert server.started, "the matching test server did not start"
        yield base_url, project_name
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if pg_name is not None and base_pg:
            _pg_teardown(base_pg, pg_name)


@pytest.fixture
def mpage(browser, match_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=match_server[0])
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_search_and_invite_in_place(
    mpage: Page, match_server: tuple[str, str], screenshot_dir: Path
) -> None:
    page = mpage
    _base, project_name = match_server
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    operator = first_login(Role.operator)
    log_in(page, operator.email, operator.password)

    page.get_by_role("link", name="Find experts").click()
    page.wait_for_url("**/experts/search")
    # The search box has the focus: type, choose the domain, tick the interview state, Enter.
    page.keyboard.type("glaciologist")
    page.locator('select[name="domain"]').select_option("physics")
    page.locator('input[name="state"][value="interview"]').check()
    page.locator("#m-q").press("Enter")
    page.wait_for_url("**/experts/search?*")
    rows = page.get_by_test_id("matches").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("matches")).not_to_contain_text("Volcanologist")
    expect(rows.first.locator("mark").first).to_have_text("Glaciologist")
    expect(rows.first).to_contain_text("The search text is in the headline")
    expect(rows.first).to_contain_text("Works in Physics")
    page.screenshot(path=str(screenshot_dir / "matching-results.png"), full_page=True)

    # Keyboard: tick both with Space, choose the project, invite; the answer lands in place.
    page.evaluate("window.__noReload = true")
    page.get_by_label("Choose Ingrid Glacier").focus()
    page.keyboard.press("Space")
    page.get_by_label("Choose Tomas Firn").focus()
    page.keyboard.press("Space")
    page.get_by_label("Project to invite them to").select_option(label=project_name)
    page.get_by_role("button", name="Invite to project").focus()
    page.keyboard.press("Enter")
    result = page.get_by_test_id("invite-result")
    expect(result).to_contain_text("1 staffed, 0 already there, 1 refused.")
    expect(page.get_by_test_id("invite-refused")).to_contain_text(
        "Tomas Firn: This expert is not vetted yet (they are interview)"
    )
    assert page.evaluate("window.__noReload") is True  # no page load happened
    page.screenshot(path=str(screenshot_dir / "matching-invited.png"), full_page=True)
    assert problems == []
