"""Matching in a real browser: the operator searches with free text and a filter, reads why each
expert matched (highlighted words), ticks experts with the keyboard and invites them to a project
in place (no reload): the approved one is staffed, the one still in vetting is refused with the
reason. The live server is this module's own (demo-seeded, plus indexed experts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from expertloop.accounts.models import Role
from expertloop.experts import search_index
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    InvitationKind,
    ProfileDomain,
    VettingState,
)
from expertloop.projects.models import Project
from tests.e2e.conftest import module_server, page_at
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
    served = module_server(tmp, "matching", lambda session, _settings: _seed(session))
    with served as (base, extra):
        yield base, extra


@pytest.fixture
def mpage(browser, match_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with page_at(browser, match_server[0]) as page:
        yield page


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
