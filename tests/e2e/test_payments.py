"""An expert's week of work, paid, in a real browser: against a scenario computed by hand.

A week is submitted once it is over, and the server stamps heartbeats with its own clock, so the
paid week is last week: the operator sets the demo expert's rate (USD 187.50 an hour from last
Monday); the expert asks for the 7 h 20 min of a call she had last Tuesday (with a reason), the
operator approves it. She also works a few seconds in the workbench now: real heartbeats that
her time page shows live for this week, and that no payout of last week may include. She submits
last week, the operator approves it and makes a payout run (preview first; a retry of the same
form pays nobody twice). The statement must then show, to the cent:

    26,400 s x 18,750 / 3,600 = 137,500 (USD 1,375.00, exact)

and the client is billed that plus the 25 % margin: 137,500 x 2,500 / 10,000 = 34,375.
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
from expertloop.payments.money import margin, round_half_up
from expertloop.payments.timesheets import week_of
from tests.e2e.test_login_roles import STAFFED_PROJECT, first_login, log_in

pytestmark = pytest.mark.browser

HOURLY_MINOR = 18_750  # USD 187.50
ADJUSTMENT_MINUTES = 440  # 7 h 20 min
ADJUSTMENT_MINOR = 137_500  # 26,400 s x 18,750 / 3,600, exactly
WORK_SECONDS = 6.5  # between the two heartbeats (heartbeats closer than 5 s are one)


def _watch(page: Page) -> list[str]:
    """Collect page errors and console errors (CSP violations are console errors)."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return problems


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login"))


def _csrf(page: Page) -> str:
    headers = page.locator("body").get_attribute("hx-headers")
    assert headers
    return str(json.loads(headers)["X-CSRF-Token"])


def _seconds(row, testid: str) -> int:  # type: ignore[no-untyped-def]
    value = row.get_by_test_id(testid).get_attribute("data-seconds")
    assert value is not None
    return int(value)


def test_week_of_work_is_approved_paid_and_on_the_statement_to_the_cent(
    page: Page, screenshot_dir: Path
) -> None:
    problems = _watch(page)
    operator, client = first_login(Role.operator), first_login(Role.client)
    expert = first_login(Role.expert)
    assert expert == next(x for x in DEMO_LOGINS if x.role == Role.expert)
    today = dt.datetime.now(dt.UTC).date()
    monday = week_of(today) - dt.timedelta(weeks=1)  # last week: over, so it can be submitted
    sunday = monday + dt.timedelta(days=6)

    # 1. The operator sets the expert's rate from last Monday (typed as decimal text).
    log_in(page, operator.email, operator.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payroll").click()
    form = page.get_by_test_id("rate-form")
    form.get_by_label("Expert").select_option(label=f"{expert.name} (expert)")
    form.get_by_label("Currency").fill("USD")
    form.get_by_label("Per hour").fill("187.5x")
    form.get_by_label("From").fill(monday.isoformat())
    form.get_by_role("button", name="Add rate").click()
    # A typo is explained and the typed text kept.
    expect(page.get_by_role("alert")).to_contain_text("not an amount")
    expect(form.get_by_label("Per hour")).to_have_value("187.5x")
    form.get_by_label("Per hour").fill("187.50")
    form.get_by_role("button", name="Add rate").click()
    expect(page.get_by_test_id("rates")).to_contain_text("USD 187.50")
    _log_out(page)

    # 2. The expert works a few seconds on her problem set: two real heartbeats.
    log_in(page, expert.email, expert.password)
    page.get_by_test_id("my-problem-sets").get_by_role("link").first.click()
    workbench = page.locator("[data-workbench]")
    with page.expect_response("**/api/v1/activity/heartbeats") as first:
        page.get_by_test_id("ps-title").click()  # the first input of a visit sends a heartbeat
    assert first.value.ok
    page.wait_for_timeout(WORK_SECONDS * 1000)
    beat = page.request.post(
        "/api/v1/activity/heartbeats",
        headers={"X-CSRF-Token": _csrf(page)},
        data={
            "project_id": int(workbench.get_attribute("data-project") or 0),
            "problem_set_id": int(workbench.get_attribute("data-problem-set") or 0),
            "kind": "active",
        },
    )
    assert beat.ok, beat.text()
    assert beat.json()["recorded"] is True

    # 3. Her time page shows this week's time live; she asks for last Tuesday's 7 h 20 min call.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Time", exact=True).click()
    live = page.get_by_test_id("this-week").locator("tbody tr", has_text=STAFFED_PROJECT)
    assert _seconds(live, "line-tracked") >= int(WORK_SECONDS)
    adj = page.get_by_test_id("adjustment-form")
    adj.get_by_label("Project").select_option(label=STAFFED_PROJECT)
    adj.get_by_label("Date").fill((monday + dt.timedelta(days=1)).isoformat())
    adj.get_by_label("Minutes").fill(str(ADJUSTMENT_MINUTES))
    adj.get_by_label("Reason").fill("Call with Northwind's finance team (not in the workbench)")
    adj.get_by_role("button", name="Request adjustment").click()
    expect(page.get_by_test_id("adjustment-status").first).to_have_text("Requested")
    _log_out(page)

    # 4. The operator approves the adjustment.
    log_in(page, operator.email, operator.password)
    page.goto("/payroll#adjustments")
    row = page.get_by_test_id("requested-adjustments").locator("tr", has_text=expert.name)
    expect(row).to_contain_text("+440 min (7:20:00)")
    row.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Adjustment decided.")).to_be_visible()
    _log_out(page)

    # 5. The expert submits last week (this week is not over: it has no submit button).
    log_in(page, expert.email, expert.password)
    page.goto("/time")
    week_row = page.get_by_test_id("weeks").locator(f"tr[data-week='{monday}']")
    this_row = page.get_by_test_id("weeks").locator(f"tr[data-week='{week_of(today)}']")
    expect(this_row.get_by_role("button")).to_have_count(0)
    week_row.get_by_role("button", name="Submit week").click()
    expect(week_row.get_by_test_id("week-status")).to_have_text("Submitted")
    _log_out(page)

    # 6. The operator approves it, previews the payout run and pays.
    log_in(page, operator.email, operator.password)
    page.goto("/payroll")
    sheet = page.get_by_test_id("submitted-sheet").filter(has_text=expert.name)
    expect(sheet).to_contain_text("USD 187.50/h")
    page.screenshot(path=str(screenshot_dir / "payments-payroll.png"), full_page=True)
    sheet.get_by_test_id("approve-sheet").click()
    expect(page.get_by_text("Timesheet approved and posted.")).to_be_visible()
    run_form = page.get_by_test_id("run-form")
    run_form.get_by_label("Period start").fill(monday.isoformat())
    run_form.get_by_label("Period end").fill(sunday.isoformat())
    run_form.get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("run-preview")
    expect(preview).to_contain_text(expert.name)
    preview_minor = int(
        preview.locator("tr", has_text=expert.name)
        .locator("[data-minor]")
        .get_attribute("data-minor")
        or 0
    )
    key = run_form.locator("input[name=idempotency_key]").input_value()
    page.get_by_test_id("run-form").get_by_role("button", name="Pay").click()
    # The run is a background job: its page follows it, then links to the run.
    expect(page.get_by_test_id("job-status")).to_have_text("done")
    job_url = page.url
    page.get_by_test_id("job-result").get_by_role("link").click()
    expect(page.get_by_test_id("run-title")).to_contain_text("Payout run #")
    run_url = page.url
    # A retry of the same form (same key, same dates) answers with the same run.
    retry = page.request.post(
        "/payroll/payout-runs",
        form={
            "csrf_token": _csrf(page),
            "period_start": monday.isoformat(),
            "period_end": sunday.isoformat(),
            "idempotency_key": key,
            "action": "run",
        },
        max_redirects=0,
    )
    assert retry.status == 303
    assert job_url.endswith(retry.headers["location"])
    expect(page.get_by_test_id("payouts").locator("tbody tr")).to_have_count(1)
    payout_file = page.request.get(f"{run_url}?format=csv")
    assert payout_file.ok
    assert f",USD,{preview_minor}," in payout_file.text()
    # Payroll now shows the run and the project's margin (chart and table).
    page.goto("/payroll")
    run_path = run_url[run_url.index("/payroll/payout-runs/") :]
    this_run = page.get_by_test_id("runs").locator(
        "tbody tr", has=page.locator(f"a[href='{run_path}']")
    )
    expect(this_run).to_have_count(1)  # (other browser tests may have made runs of their own)
    expect(this_run).to_contain_text(f"{monday} \N{EN DASH} {sunday}")
    expect(page.get_by_test_id("chart-margins")).to_have_attribute("data-drawn", "true")
    expect(page.get_by_test_id("margins")).to_contain_text(STAFFED_PROJECT)
    page.screenshot(path=str(screenshot_dir / "payments-payroll-after-run.png"), full_page=True)
    _log_out(page)

    # 7. The expert's approved week: 7:20:00 paid at 187.50, exactly the hand-computed amount;
    #    this week's live seconds stay open and unpaid.
    log_in(page, expert.email, expert.password)
    page.goto("/time")
    week_row = page.get_by_test_id("weeks").locator(f"tr[data-week='{monday}']")
    expect(week_row.get_by_test_id("week-status")).to_have_text("Approved")
    expect(week_row).to_contain_text("7:20:00")
    expected = ADJUSTMENT_MINOR
    assert round_half_up(ADJUSTMENT_MINUTES * 60 * HOURLY_MINOR, 3600) == expected
    expect(week_row).to_contain_text(_usd(expected))
    assert preview_minor == expected
    live = page.get_by_test_id("this-week").locator("tbody tr", has_text=STAFFED_PROJECT)
    assert _seconds(live, "line-tracked") >= int(WORK_SECONDS)
    expect(page.get_by_test_id("this-week-status")).not_to_have_text("Approved")

    # 8. The statement for the week: earned and paid to the cent, nothing owed at the end.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Earnings").click()
    expect(page.get_by_test_id("card-paid")).to_contain_text(_usd(expected))
    expect(page.get_by_test_id("card-lifetime")).to_contain_text(_usd(expected))
    expect(page.get_by_test_id("card-pending")).to_contain_text("0.00")
    expect(page.locator("figure[data-chart][data-drawn=true]")).to_have_count(2)
    expect(page.get_by_test_id("earnings-weeks")).to_contain_text(_usd(expected))
    page.screenshot(path=str(screenshot_dir / "payments-earnings.png"), full_page=True)
    page.goto(f"/statement?from={monday}&to={sunday}")
    summary = page.get_by_test_id("statement-summary").locator("tr[data-currency=USD]")
    for testid in ("statement-earned", "statement-paid"):
        cell = summary.get_by_test_id(testid)
        assert cell.get_attribute("data-minor") == str(expected), testid
        expect(cell).to_have_text(_usd(expected))
    assert summary.get_by_test_id("statement-closing").get_attribute("data-minor") == "0"
    lines = page.get_by_test_id("statement-lines")
    expect(lines.locator("tr[data-kind=time]")).to_contain_text(STAFFED_PROJECT)
    expect(lines.locator("tr[data-kind=payout]")).to_contain_text(f"-{_usd(expected)}")
    page.screenshot(path=str(screenshot_dir / "payments-statement.png"), full_page=True)
    csv = page.request.get(page.get_by_test_id("statement-csv").get_attribute("href") or "")
    assert f",USD,{expected}," in csv.text()
    _log_out(page)

    # 9. The client's spend: the cost plus the 25 % margin, with the chart and the invoice.
    billed = expected + margin(expected, 2500)
    assert billed == 137_500 + 34_375
    log_in(page, client.email, client.password)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Spend").click()
    expect(page.get_by_test_id("spend-projects")).to_contain_text(_usd(billed))
    expect(page.locator("figure[data-chart][data-drawn=true]")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir / "payments-spend.png"), full_page=True)
    page.get_by_test_id("spend-projects").get_by_role("link").first.click()
    assert page.get_by_test_id("invoice-total").get_attribute("data-minor") == str(billed)
    expect(page.get_by_test_id("invoice-lines")).not_to_contain_text(expert.name)

    # The only error the browser saw is the 422 of the rate typo in step 1 (by design).
    unexpected = [p for p in problems if "favicon" not in p]
    unexpected.remove(
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    )
    assert not unexpected, unexpected


def _usd(minor: int) -> str:
    return f"USD {minor // 100:,}.{minor % 100:02d}"
