"""The operator adds a referral bonus rule on a project's pay page, in a real browser.

Without the threshold the form is refused with the reason and keeps what was typed; with it the
rule is listed with its readable kind and condition. The rule's threshold is far out of reach
(10,000 approved hours), so no other browser test's payout run ever pays it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in

pytestmark = pytest.mark.browser

KIND = "Referral (referred expert reaches N approved hours)"


def test_operator_adds_a_referral_rule_with_the_keyboard(page: Page, screenshot_dir: Path) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    operator = first_login(Role.operator)
    log_in(page, operator.email, operator.password)
    page.goto("/projects")
    href = page.get_by_role("link", name=STAFFED_PROJECT).first.get_attribute("href")
    assert href and re.fullmatch(r"/projects/\d+", href), href
    page.goto(f"{href}/pay")
    rules = page.locator("#rules")
    form = rules.locator("form[action$='/pay/bonus-rules']")

    form.get_by_label("Kind").select_option(label=KIND)
    form.get_by_label("Amount").fill("150.00")
    form.get_by_label("Amount").press("Enter")  # no threshold yet
    alert = page.locator("#rules").get_by_role("alert")
    expect(alert).to_contain_text("min_hours")
    form = page.locator("#rules form[action$='/pay/bonus-rules']")
    expect(form.get_by_label("Amount")).to_have_value("150.00")
    expect(form.get_by_label("Kind")).to_have_value("referral")

    hours = form.get_by_role("textbox", name="N approved hours", exact=True)
    hours.fill("10000")
    hours.press("Enter")
    page.wait_for_url(re.compile(r"saved=rule"))
    row = page.locator("#rules table tr", has_text=KIND)
    expect(row.last).to_contain_text("referred expert has 10,000 approved hours")
    expect(row.last).to_contain_text("USD 150.00")
    page.screenshot(path=str(screenshot_dir / "referral-rule.png"), full_page=True)
    # The only error the browser saw is the 422 of the refused form (by design).
    assert problems == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
