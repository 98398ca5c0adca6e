"""The project's lead reviews an expert's time in a real browser: hours, never pay.

The demo reviewer (Rosa) leads the demo project. The second demo expert asks for 3 h of a day two
weeks ago (a week no other browser test touches); Rosa approves the adjustment on Team time; the
expert submits that week; Rosa approves it. She sees 3:00:00 counted and no amount; the expert's
week is then approved and priced at her rate. The operator then reverses the approval, so that
the other browser tests' money (spend, payout runs) is as if this test had not run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from expertloop.accounts.models import Role
from expertloop.cli.demo_seed import DEMO_LOGINS
from expertloop.payments.timesheets import week_of
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in

pytestmark = pytest.mark.browser


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login"))


def test_the_lead_approves_an_adjustment_and_a_week_on_team_time(
    page: Page, screenshot_dir: Path
) -> None:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    expert = [x for x in DEMO_LOGINS if x.role == Role.expert][-1]
    lead = first_login(Role.reviewer)
    monday = week_of(dt.datetime.now(dt.UTC).date()) - dt.timedelta(weeks=2)

    # 1. The expert asks for 3 hours of a Wednesday two weeks ago.
    log_in(page, expert.email, expert.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Time", exact=True).click()
    adj = page.get_by_test_id("adjustment-form")
    adj.get_by_label("Project").select_option(label=STAFFED_PROJECT)
    adj.get_by_label("Date").fill((monday + dt.timedelta(days=2)).isoformat())
    adj.get_by_label("Minutes").fill("180")
    adj.get_by_label("Reason").fill("Workshop with the client's controllers")
    adj.get_by_role("button", name="Request adjustment").click()
    expect(page.get_by_test_id("adjustments")).to_contain_text("Workshop with the client")
    _log_out(page)

    # 2. The lead approves it from Team time.
    log_in(page, lead.email, lead.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team time").click()
    expect(page.get_by_test_id("led-projects")).to_contain_text(STAFFED_PROJECT)
    row = page.get_by_test_id("team-adjustments").locator("tr", has_text=expert.name)
    expect(row).to_contain_text("+180 min (3:00:00)")
    row.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Adjustment decided.")).to_be_visible()
    _log_out(page)

    # 3. The expert submits that week.
    log_in(page, expert.email, expert.password)
    page.goto("/time")
    week_row = page.get_by_test_id("weeks").locator(f"tr[data-week='{monday}']")
    week_row.get_by_role("button", name="Submit week").click()
    expect(week_row.get_by_test_id("week-status")).to_have_text("Submitted")
    _log_out(page)

    # 4. The lead sees the hours, not the pay, and approves the week.
    log_in(page, lead.email, lead.password)
    page.goto("/team-time")
    sheet = page.get_by_test_id("team-sheet").filter(has_text=expert.name)
    expect(sheet).to_contain_text(f"week of {monday}")
    expect(sheet).to_contain_text("3:00:00")
    expect(sheet).not_to_contain_text("USD")
    page.screenshot(path=str(screenshot_dir / "payments-team-time.png"), full_page=True)
    sheet.get_by_test_id("team-approve").click()
    expect(page.get_by_text("Week approved")).to_be_visible()
    expect(page.get_by_test_id("team-sheet").filter(has_text=f"week of {monday}")).to_have_count(0)
    _log_out(page)

    # 5. The expert's week is approved and priced (USD 185.00/h in the demo: 3 h = USD 555.00).
    log_in(page, expert.email, expert.password)
    page.goto("/time")
    week_row = page.get_by_test_id("weeks").locator(f"tr[data-week='{monday}']")
    expect(week_row.get_by_test_id("week-status")).to_have_text("Approved")
    expect(week_row).to_contain_text("USD 555.00")
    sheets = page.request.get("/api/v1/timesheets", params={"status": "approved"}).json()
    (sheet,) = [x for x in sheets if x["week_start"] == monday.isoformat()]
    _log_out(page)

    # 6. The operator reverses the approval (the way a mistake is corrected), which leaves the
    #    ledger, the client's spend and the payout runs of the other browser tests as they were,
    #    and gives the week back to the expert.
    operator = first_login(Role.operator)
    log_in(page, operator.email, operator.password)
    headers = page.locator("body").get_attribute("hx-headers")
    assert headers
    reversal = page.request.post(
        f"/api/v1/ledger/transactions/{sheet['transaction_id']}/reverse",
        headers={"X-CSRF-Token": str(json.loads(headers)["X-CSRF-Token"])},
        data={"reason": "Browser test: undo the lead's approval"},
    )
    assert reversal.ok, reversal.text()
    back = page.request.get(f"/api/v1/timesheets/{sheet['id']}").json()
    assert back["status"] == "returned"
    assert not [p for p in problems if "favicon" not in p], problems
