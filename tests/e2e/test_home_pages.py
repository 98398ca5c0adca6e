"""Home pages in a real browser: the expert's progress and "continue", the lead's team, the
operator's feed in words, and no editing shortcuts for those who only read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from expertloop.cli.demo_data import PROBLEM_SET_TITLE
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in

pytestmark = pytest.mark.browser

AMIRA = first_login(Role.expert)  # owns the demo's half-done problem set


def _csrf(page: Page) -> str:
    headers = page.locator("body").get_attribute("hx-headers")
    assert headers
    return str(json.loads(headers)["X-CSRF-Token"])


def open_demo_problem_set(page: Page) -> None:
    """From a project's problem-set list, open the demo's half-done one (on whichever page of
    the list the other tests' problem sets pushed it to)."""
    list_path = re.sub(r"^https?://[^/]+", "", page.url).split("?")[0]
    for number in range(1, 11):
        if number > 1:
            page.goto(f"{list_path}?page={number}")
        link = page.get_by_test_id("problem-sets").get_by_role("link", name=PROBLEM_SET_TITLE)
        if link.count():
            link.click()
            page.wait_for_url(re.compile(r"/problem-sets/\d+$"))
            return
    pytest.fail(f"the demo problem set is on none of the first 10 pages of {list_path}")


def _demo_problem_set(page: Page) -> str:
    """Open the demo's half-done problem set from the home page; return its path."""
    page.get_by_test_id("my-problem-sets").get_by_role("link", name=PROBLEM_SET_TITLE).click()
    page.wait_for_url(re.compile(r"/problem-sets/\d+$"))
    return re.sub(r"^https?://[^/]+", "", page.url)


def test_expert_sees_progress_and_continues_where_they_left_off(
    page: Page, screenshot_dir: Path
) -> None:
    log_in(page, AMIRA.email, AMIRA.password)
    progress = page.get_by_test_id("progress")
    expect(progress).to_be_visible()
    expect(progress.get_by_test_id("steps-done")).to_have_text(re.compile(r"^\d+ of \d+$"))
    expect(progress.get_by_test_id("week-hours")).to_contain_text("tracked this week")
    expect(progress.get_by_test_id("status-count").first).to_be_visible()
    row = page.get_by_test_id("my-problem-sets").get_by_role("row").filter(has_text="Northwind")
    expect(row.locator("progress")).to_have_count(1)

    # Work on step 3 (its draft is autosaved through the API, as the editor does)...
    _demo_problem_set(page)
    step3 = page.get_by_test_id("steps").locator("li").nth(2).get_by_role("link").first
    step_path = step3.get_attribute("href")
    assert step_path and re.fullmatch(r"/steps/\d+", step_path)
    current = page.request.get(f"/api/v1{step_path}").json()
    saved = page.request.patch(
        f"/api/v1{step_path}",
        headers={"X-CSRF-Token": _csrf(page)},
        data={"version": current["version"], "draft_reference": "Rent is 2,400 a month."},
    )
    assert saved.ok, saved.text()

    # ...and the home page offers to continue exactly there.
    page.goto("/")
    link = page.get_by_test_id("continue-link")
    expect(link).to_have_attribute("href", step_path)
    expect(page.get_by_test_id("continue-where")).to_contain_text("Step 3")
    expect(page.get_by_test_id("continue-where")).to_contain_text(PROBLEM_SET_TITLE)
    page.screenshot(path=str(screenshot_dir / "home-expert-progress.png"), full_page=True)
    link.click()
    page.wait_for_url(re.compile(re.escape(step_path) + "$"))


def test_lead_sees_the_teams_work_in_progress(page: Page, screenshot_dir: Path) -> None:
    rosa = first_login(Role.reviewer)  # the demo project's lead
    log_in(page, rosa.email, rosa.password)
    team = page.get_by_test_id("team")
    expect(team).to_be_visible()
    expect(team.get_by_role("heading", name=STAFFED_PROJECT)).to_be_visible()
    amira = team.get_by_test_id("team-member").filter(has_text=AMIRA.name)
    expect(amira).to_have_count(1)
    open_sets = int(amira.locator("[data-col=in_progress]").inner_text()) + int(
        amira.locator("[data-col=returned]").inner_text()
    )
    assert open_sets >= 1
    expect(amira.locator("time")).to_have_count(1)  # her last activity
    page.screenshot(path=str(screenshot_dir / "home-lead-team.png"), full_page=True)
    amira.get_by_role("link", name=PROBLEM_SET_TITLE).click()
    page.wait_for_url(re.compile(r"/problem-sets/\d+$"))
    expect(page.get_by_test_id("ps-title")).to_have_text(PROBLEM_SET_TITLE)


def test_operator_feed_speaks_words_links_objects_and_loads_more(
    page: Page, screenshot_dir: Path
) -> None:
    operator = first_login(Role.operator)
    log_in(page, operator.email, operator.password)
    feed = page.get_by_test_id("feed")
    items = feed.get_by_test_id("feed-item")
    expect(items.first).to_be_visible()
    texts = items.all_inner_texts()
    assert texts and not any(re.search(r"\b[a-z]+\.[a-z_]+\b", t) for t in texts), texts
    assert all(re.search(r"(ago|just now)$", t) for t in texts), texts
    # Sentences start with the person who acted and link the object they acted on.
    names = [login.name for login in (AMIRA, first_login(Role.reviewer), operator)]
    kenji = "Kenji Watanabe, CFA"
    assert any(t.startswith((*names, kenji, "The system")) for t in texts), texts
    linked = items.filter(has=page.locator(".sentence a"))
    expect(linked.first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "home-operator-feed.png"), full_page=True)

    # "More activity" appends the next page in place and keeps the earlier items.
    before = items.count()
    more = page.get_by_test_id("feed-more")
    expect(more).to_be_visible()
    more.focus()
    page.keyboard.press("Enter")
    expect(items).not_to_have_count(before)
    assert items.count() > before
    # Focus moves to the first of the new items: the keyboard goes on where the list grew.
    expect(items.nth(before)).to_be_focused()
    assert re.sub(r"^https?://[^/]+", "", page.url) == "/"  # in place: still the home page

    target = linked.first.locator(".sentence a").first
    href = target.get_attribute("href")
    assert href and re.fullmatch(r"/(steps|problem-sets|projects|jobs|users)(/\d+)?", href), href
    target.click()
    page.wait_for_url(re.compile(re.escape(href) + "$"))
    expect(page.locator("h1").first).to_be_visible()


@pytest.mark.parametrize("role", [Role.client, Role.reviewer], ids=lambda r: r.value)
def test_readers_see_no_editing_shortcuts(page: Page, role: Role) -> None:
    """The client and the reviewer read the expert's problem set: nothing there edits it."""
    viewer = first_login(role)
    log_in(page, viewer.email, viewer.password)
    expect(page.get_by_test_id("continue-link")).to_have_count(0)
    page.goto("/projects")
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.get_by_test_id("problem-sets-link").click()
    expect(page.get_by_test_id("problem-sets")).to_be_visible()
    if role == Role.client:  # a staffed reviewer may write problem sets of their own
        expect(page.get_by_role("heading", name="New problem set")).to_have_count(0)
        expect(page.get_by_role("button", name="Pick up")).to_have_count(0)
    open_demo_problem_set(page)
    expect(page.get_by_test_id("steps")).to_be_visible()
    for absent in ("form[data-autosave]", "[data-testid=add-step]", "[data-move]", "kbd"):
        expect(page.locator(absent)).to_have_count(0)
    expect(page.get_by_test_id("run-all")).to_have_count(0)
    expect(page.locator("[data-heartbeat]")).to_have_count(0)
    expect(page.locator("[data-timer]")).to_have_count(0)  # no time tracked for readers
