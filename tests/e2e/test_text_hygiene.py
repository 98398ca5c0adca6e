"""Hostile and right-to-left text in a real browser: a title carrying a right-to-left override
shows without it in the page title, breadcrumb and step links; Arabic text gets its own
direction; a prompt typed with line breaks in the page form is stored with \\n line ends."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_login_roles import STAFFED_PROJECT, log_in
from tests.e2e.test_workbench import _expert, _watch

pytestmark = pytest.mark.browser

RLO = "\u202e"
# "Invoice <RLO>gnp.exe" displays as "Invoice exe.png" when the override is honoured.
PS_TITLE = f"Invoice {RLO}gnp.exe"
STEP_TITLE = f"Totals {RLO}fdp.tab"
# "What is the net profit? / Compute it step by step." in Arabic.
ARABIC_PROMPT = (
    "\u0645\u0627 \u0647\u0648 \u0635\u0627\u0641\u064a \u0627\u0644\u0631\u0628\u062d\u061f\n"
    "\u0627\u062d\u0633\u0628\u0647 \u062e\u0637\u0648\u0629 \u0628\u062e\u0637\u0648\u0629."
)


def test_overrides_are_neutralised_and_arabic_gets_its_direction(page: Page) -> None:
    problems = _watch(page)
    expert = _expert()
    log_in(page, expert.email, expert.password)
    page.get_by_role("link", name=STAFFED_PROJECT).first.click()
    page.get_by_test_id("problem-sets-link").click()

    page.get_by_label("Title").fill(PS_TITLE)
    page.get_by_label("Problem statement").fill(ARABIC_PROMPT)
    page.get_by_role("button", name="Create problem set").click()
    expect(page.get_by_test_id("ps-title")).to_contain_text("gnp.exe")
    assert RLO not in page.title()
    assert RLO not in page.get_by_test_id("ps-title").inner_text()
    # The author edits the statement in place: the field lays Arabic out right to left.
    statement = page.get_by_label("Problem statement")
    expect(statement).to_have_attribute("dir", "auto")
    assert statement.evaluate("el => getComputedStyle(el).direction") == "rtl"

    add = page.locator("details", has_text="Add a step")
    if add.get_attribute("open") is None:
        add.locator("summary").click()
    form = page.get_by_test_id("add-step")
    form.get_by_label("Title").fill(STEP_TITLE)
    # The browser submits the textarea's line break as \r\n.
    form.get_by_label("Prompt").fill(ARABIC_PROMPT)
    form.get_by_role("button", name="Add step").click()

    # The step page: page title and breadcrumb show the problem set's title without the
    # override; the prompt is laid out in its own (right-to-left) direction.
    expect(page.get_by_test_id("prompt")).to_be_visible()
    assert RLO not in page.title()
    assert "gnp.exe" in page.title()
    crumb = page.get_by_role("navigation", name="breadcrumb")
    expect(crumb).to_contain_text("Invoice gnp.exe")
    assert RLO not in crumb.inner_text()
    prompt = page.get_by_test_id("prompt")
    expect(prompt).to_have_attribute("dir", "auto")
    assert prompt.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert RLO not in page.get_by_test_id("step-title").inner_text()

    # Stored as typed, with \n line ends (the page form went through the same rule as the API).
    step_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    revisions = page.evaluate(
        "async (id) => (await fetch(`/api/v1/steps/${id}/revisions`)).json()", step_id
    )
    assert revisions[-1]["prompt"] == ARABIC_PROMPT
    assert "\r" not in revisions[-1]["prompt"]

    # The problem set's step list links to the step without the override.
    crumb.get_by_role("link", name="Invoice gnp.exe").click()
    link = page.get_by_test_id("steps").get_by_role("link").first
    expect(link).to_contain_text("fdp.tab")
    assert RLO not in link.inner_text()
    assert problems == []
