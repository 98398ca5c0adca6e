"""Payments pages: who may open which page, forms that post, redirect or render the error again.

The figures are computed by hand here: 7 h 20 min at USD 187.50 an hour is USD 1,375.00; the
client is billed that plus the default 25 % margin (USD 343.75).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.payments import rates
from expertloop.payments.models import (
    AdjustmentStatus,
    Bonus,
    LedgerTransaction,
    Payout,
    PayoutRun,
    TimeAdjustment,
    Timesheet,
    TimesheetLine,
    TimesheetStatus,
)
from expertloop.payments.timesheets import week_of
from expertloop.types import utcnow
from tests.factories import World

# Last week: a week is submitted once it is over, and a payout period ends by today.
MONDAY = week_of(utcnow().date()) - dt.timedelta(weeks=1)
TODAY = MONDAY + dt.timedelta(days=2)  # the day the work in these tests was done
SUNDAY = MONDAY + dt.timedelta(days=6)


def _form(api, url: str, **data: object):  # type: ignore[no-untyped-def]
    return api.post(url, data={k: str(v) for k, v in data.items()}, follow_redirects=False)


def _rate(db: Session, w: World, hourly_minor: int = 18750, project_id: int | None = None) -> None:
    rates.set_rate(
        session=db,
        actor=w.operator,
        currency="USD",
        hourly_minor=hourly_minor,
        effective_from=MONDAY - dt.timedelta(weeks=10),
        user_id=w.expert_a.id,
        project_id=project_id,
    )
    db.commit()


def _approved_week(login_as, w: World, db: Session, minutes: int = 440) -> int:  # type: ignore[no-untyped-def]
    """Expert A asks for ``minutes``, the operator approves it; A submits; return the sheet id."""
    expert, operator = login_as(w.expert_a), login_as(w.operator)
    r = _form(
        expert,
        "/time/adjustments",
        project_id=w.project_a.id,
        work_date=TODAY,
        minutes=minutes,
        reason="Call with the client's finance team",
    )
    assert r.status_code == 303, r.text
    adj = db.scalar(
        select(TimeAdjustment).where(
            TimeAdjustment.user_id == w.expert_a.id,
            TimeAdjustment.status == AdjustmentStatus.requested,
        )
    )
    assert adj is not None
    assert _form(operator, f"/payroll/adjustments/{adj.id}/approve").status_code == 303
    assert _form(expert, "/time/submit", week_start=MONDAY).status_code == 303
    sheet = db.scalar(select(Timesheet).where(Timesheet.user_id == w.expert_a.id))
    assert sheet is not None and sheet.status == TimesheetStatus.submitted
    return sheet.id


# --- Navigation and who may open what ---------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "present", "absent"),
    [
        ("expert_a", ["/time", "/earnings"], ["/payroll", "/spend", "/team-time"]),
        ("reviewer_a", ["/time", "/earnings", "/team-time"], ["/payroll", "/spend"]),
        ("operator", ["/payroll"], ["/time", "/earnings", "/spend", "/team-time"]),
        ("client_a", ["/spend"], ["/time", "/earnings", "/payroll"]),
    ],
)
def test_navigation_per_role(login_as, world: World, who, present, absent) -> None:  # type: ignore[no-untyped-def]
    html = login_as(getattr(world, who)).get("/").text
    nav = html.split('aria-label="Main"')[1].split("</nav>")[0]
    for href in present:
        assert f'href="{href}"' in nav
    for href in absent:
        assert f'href="{href}"' not in nav


@pytest.mark.parametrize(
    ("url", "allowed", "refused"),
    [
        ("/time", ("expert_a", "reviewer_a"), ("operator", "client_a")),
        ("/earnings", ("expert_a", "reviewer_a"), ("operator", "client_a")),
        ("/statement", ("expert_a", "reviewer_a"), ("operator", "client_a")),
        ("/payroll", ("operator",), ("expert_a", "reviewer_a", "client_a")),
        ("/spend", ("operator", "client_a"), ("expert_a", "reviewer_a")),
    ],
)
def test_page_roles(login_as, world: World, url: str, allowed, refused) -> None:  # type: ignore[no-untyped-def]
    for who in allowed:
        assert login_as(getattr(world, who)).get(url).status_code == 200, (who, url)
    for who in refused:
        r = login_as(getattr(world, who)).get(url)
        assert r.status_code == 403, (who, url, r.status_code)


def test_payroll_changes_are_refused_to_other_roles(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    for who in ("expert_a", "reviewer_a", "client_a"):
        api = login_as(getattr(world, who))
        assert _form(api, "/payroll/rates", hourly="10", effective_from=TODAY).status_code == 403
        r = _form(
            api,
            "/payroll/payout-runs",
            period_start=MONDAY,
            period_end=SUNDAY,
            idempotency_key="k",
            action="run",
        )
        assert r.status_code == 403


def test_statements_are_the_experts_own(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    expert = login_as(world.expert_a)
    assert expert.get(f"/users/{world.expert_a.id}/statement").status_code == 200
    assert expert.get(f"/users/{world.expert_b.id}/statement").status_code == 404
    assert login_as(world.client_a).get(f"/users/{world.expert_a.id}/statement").status_code == 404
    operator = login_as(world.operator)
    r = operator.get(f"/users/{world.expert_b.id}/statement")
    assert r.status_code == 200
    assert escape(world.expert_b.name) in r.text
    assert operator.get("/users/999999/statement").status_code == 404


def test_invoices_are_the_clients_own(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    a, b = world.project_a.id, world.project_b.id
    assert login_as(world.client_a).get(f"/projects/{a}/invoice").status_code == 200
    assert login_as(world.client_a).get(f"/projects/{b}/invoice").status_code == 404
    assert login_as(world.client_b).get(f"/projects/{b}/invoice").status_code == 200
    # Experts staffed on the project do not see what the client is billed.
    assert login_as(world.expert_a).get(f"/projects/{a}/invoice").status_code == 404
    assert login_as(world.operator).get(f"/projects/{b}/invoice?format=csv").status_code == 200


def test_pay_terms_page_is_for_operators(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    a = world.project_a.id
    assert login_as(world.operator).get(f"/projects/{a}/pay").status_code == 200
    # The owning client sees the project but not its pay terms; an outsider not even that.
    assert login_as(world.client_a).get(f"/projects/{a}/pay").status_code == 403
    assert login_as(world.expert_a).get(f"/projects/{a}/pay").status_code == 403
    assert login_as(world.client_b).get(f"/projects/{a}/pay").status_code == 404


# --- Expert: time --------------------------------------------------------------------------


def test_adjustment_error_keeps_the_typed_input(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    expert = login_as(world.expert_a)
    r = _form(
        expert,
        "/time/adjustments",
        project_id=world.project_a.id,
        work_date=TODAY,
        minutes="2000",
        reason="Workshop & review <b>",
    )
    assert r.status_code == 422
    assert "between 1 and 1,440 minutes" in r.text
    assert 'value="2000"' in r.text
    assert "Workshop &amp; review &lt;b&gt;" in r.text
    r = _form(expert, "/time/adjustments", project_id="", work_date=TODAY, minutes="30", reason="x")
    assert r.status_code == 422 and "Choose the project" in r.text
    r = _form(
        expert, "/time/adjustments", project_id=world.project_a.id, work_date="31/12", minutes="30"
    )
    assert r.status_code == 422 and "must be a date" in r.text
    # Another tenant's project does not exist for the expert.
    r = _form(
        expert,
        "/time/adjustments",
        project_id=world.project_b.id,
        work_date=TODAY,
        minutes="30",
        reason="planted",
    )
    assert r.status_code == 404
    assert escape(world.project_b.name) not in r.text
    assert db.scalar(select(func.count(TimeAdjustment.id))) == 0


def test_time_page_shows_the_week_and_adjustments(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    _rate(db, world)
    sheet_id = _approved_week(login_as, world, db)
    html = login_as(world.expert_a).get("/time").text
    row = html[html.index(f'data-week="{MONDAY}"') :]
    assert "7:20:00" in row[: row.index("</tr>")]  # 440 approved minutes, last week
    assert "USD 1,375.00" in html  # estimated at the rate in force
    assert "Submitted" in html
    assert "+440 min (7:20:00)" in html
    # The operator returns it with a comment; the expert sees it and may submit again.
    operator = login_as(world.operator)
    r = _form(operator, f"/payroll/timesheets/{sheet_id}/return", comment="")
    assert r.status_code == 422 and "Say what to fix" in r.text
    r = _form(operator, f"/payroll/timesheets/{sheet_id}/return", comment="Split the call by day")
    assert r.status_code == 303
    html = login_as(world.expert_a).get("/time").text
    assert "Split the call by day" in html and "Submit again" in html


# --- Operator: payroll, end to end ---------------------------------------------------------


def test_rate_form_parses_decimal_text_and_keeps_bad_input(
    login_as, world: World, db: Session
) -> None:  # type: ignore[no-untyped-def]
    operator = login_as(world.operator)
    r = _form(
        operator,
        "/payroll/rates",
        user_id=world.expert_a.id,
        currency="usd",
        hourly="1,187.505",
        effective_from=MONDAY,
    )
    assert r.status_code == 422
    assert "at most 2 decimals" in r.text
    assert 'value="1,187.505"' in r.text
    r = _form(
        operator,
        "/payroll/rates",
        user_id=world.expert_a.id,
        currency="usd",
        hourly="1,187.50",
        effective_from=MONDAY,
    )
    assert r.status_code == 303
    rate = rates.rate_for(
        session=db, user_id=world.expert_a.id, project_id=world.project_a.id, on=MONDAY
    )
    assert rate is not None and (rate.hourly_minor, rate.currency) == (118750, "USD")
    r = _form(operator, "/payroll/rates", hourly="10", currency="USD", effective_from=MONDAY)
    assert r.status_code == 422 and "A rate is for an expert" in r.text


def test_approve_pay_and_statement_to_the_cent(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    _rate(db, world)
    sheet_id = _approved_week(login_as, world, db)
    operator = login_as(world.operator)
    page = operator.get("/payroll").text
    assert f'data-sheet-id="{sheet_id}"' in page and "USD 1,375.00" in page
    assert _form(operator, f"/payroll/timesheets/{sheet_id}/approve").status_code == 303
    # Approving twice is refused and shows the page again.
    r = _form(operator, f"/payroll/timesheets/{sheet_id}/approve")
    assert r.status_code == 409 and "this one is approved" in r.text
    expected = 137500  # 26,400 s x 18,750 / 3,600
    line = db.scalar(select(TimesheetLine).where(TimesheetLine.timesheet_id == sheet_id))
    assert line is not None and line.amount_minor == expected
    assert line.margin_minor == 34375

    # Preview: who would be paid what; nothing is written.
    key = "form-key-1"
    run_form = {"period_start": MONDAY, "period_end": SUNDAY, "idempotency_key": key}
    r = _form(operator, "/payroll/payout-runs", action="preview", **run_form)
    assert r.status_code == 200
    assert 'data-testid="run-preview"' in r.text and "USD 1,375.00" in r.text
    assert db.scalar(select(func.count(PayoutRun.id))) == 0
    # Pay, then the same form again (a double submit): one job, one run, one payout.
    first = _form(operator, "/payroll/payout-runs", action="run", **run_form)
    second = _form(operator, "/payroll/payout-runs", action="run", **run_form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert first.headers["location"].startswith("/jobs/")
    assert db.scalar(select(func.count(Payout.id))) == 1
    # The job's page links to the run it made.
    run_id = db.scalar(select(PayoutRun.id).where(PayoutRun.idempotency_key == key))
    run_url = f"/payroll/payout-runs/{run_id}"
    assert f'href="{run_url}"' in operator.get(first.headers["location"]).text
    assert "USD 1,375.00" in operator.get(run_url).text
    csv = operator.get(f"{run_url}?format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert ",USD,137500," in csv.text
    # The same key with other dates is refused: a new key comes with the page.
    r = _form(
        operator,
        "/payroll/payout-runs",
        action="run",
        period_start=MONDAY - dt.timedelta(days=7),
        period_end=SUNDAY,
        idempotency_key=key,
    )
    assert r.status_code == 409
    assert "Submit again" in r.text
    assert f'value="{key}"' not in r.text

    # The expert's statement: earned and paid to the cent, nothing owed at the end.
    expert = login_as(world.expert_a)
    st = expert.get(f"/statement?from={MONDAY}&to={SUNDAY}").text
    for testid in ("statement-earned", "statement-paid"):
        assert re.search(rf'data-testid="{testid}" data-minor="{expected}"', st), testid
    assert 'data-testid="statement-closing" data-minor="0"' in st
    csv = expert.get(f"/statement?from={MONDAY}&to={SUNDAY}&format=csv").text
    assert ',USD,137500,"USD 1,375.00"' in csv
    dash = expert.get("/earnings").text
    assert 'data-testid="chart-earnings"' in dash and 'id="chart-earnings-data"' in dash
    assert "USD 1,375.00" in dash

    # The client's spend and invoice: cost plus the default 25 % margin, no expert names.
    client = login_as(world.client_a)
    spend = client.get("/spend").text
    assert "USD 1,718.75" in spend and escape(world.project_a.name) in spend
    inv = client.get(f"/projects/{world.project_a.id}/invoice?from={MONDAY}&to={SUNDAY}").text
    assert 'data-testid="invoice-total" data-minor="171875"' in inv
    assert escape(world.expert_a.name) not in inv and "Margin" not in inv
    assert "Margin" in operator.get(f"/projects/{world.project_a.id}/invoice?from={MONDAY}").text
    assert escape(world.project_a.name) not in login_as(world.client_b).get("/spend").text


def test_a_refused_approval_writes_nothing(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    """Two projects' lines; the second has no rate: no line, no posting, still submitted."""
    _rate(db, world, project_id=world.project_a.id)  # expert A on project A only
    db.add(
        TimeAdjustment(
            user_id=world.expert_a.id,
            project_id=world.project_b.id,
            work_date=TODAY,
            minutes=30,
            reason="seeded",
            status=AdjustmentStatus.approved,
        )
    )
    db.commit()
    sheet_id = _approved_week(login_as, world, db, minutes=60)
    r = _form(login_as(world.operator), f"/payroll/timesheets/{sheet_id}/approve")
    assert r.status_code == 422
    assert "No hourly rate applies" in r.text
    db.expire_all()
    assert db.scalar(select(func.count(TimesheetLine.id))) == 0
    assert db.scalar(select(func.count(LedgerTransaction.id))) == 0
    sheet = db.get(Timesheet, sheet_id)
    assert sheet is not None and sheet.status == TimesheetStatus.submitted


def test_pay_terms_and_bonuses(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    operator = login_as(world.operator)
    url = f"/projects/{world.project_a.id}/pay"
    r = _form(operator, f"{url}/terms", cap_hours="37.51", margin_percent="20")
    assert r.status_code == 422 and 'value="37.51"' in r.text
    assert (
        _form(operator, f"{url}/terms", cap_hours="37.5", margin_percent="12.5").status_code == 303
    )
    terms = rates.terms_for(session=db, project_id=world.project_a.id, default_margin_bp=2500)
    assert (terms.weekly_cap_minutes, terms.margin_bp) == (2250, 1250)
    r = _form(
        operator,
        f"{url}/bonus-rules",
        kind="completion",
        currency="USD",
        amount="50",
        min_accepted="",
    )
    assert r.status_code == 422 and "min_accepted" in r.text
    r = _form(
        operator,
        f"{url}/bonus-rules",
        kind="completion",
        currency="USD",
        amount="50",
        min_accepted=3,
    )
    assert r.status_code == 303
    bonus = {
        "user_id": world.expert_a.id,
        "currency": "USD",
        "amount": "25.00",
        "reason": "Excellent rubric work",
        "earned_on": TODAY,
        "idempotency_key": "bonus-form-1",
    }
    assert _form(operator, f"{url}/bonuses", **bonus).status_code == 303
    assert _form(operator, f"{url}/bonuses", **bonus).status_code == 303  # double submit
    assert db.scalar(select(func.count(Bonus.id))) == 1
    r = _form(operator, f"{url}/bonuses", **{**bonus, "user_id": world.expert_b.id})
    assert r.status_code == 422 and "staffed on this project" in r.text
    page = operator.get(url).text
    assert "Excellent rubric work" in page and "12.5 %" in page
    assert "USD 25.00" in login_as(world.expert_a).get("/earnings").text


def test_payroll_says_a_week_waits_for_its_adjustments(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    _rate(db, world)
    expert, operator = login_as(world.expert_a), login_as(world.operator)
    asked = _form(
        expert,
        "/time/adjustments",
        project_id=world.project_a.id,
        work_date=TODAY,
        minutes=60,
        reason="Workshop",
    )
    assert asked.status_code == 303, asked.text
    assert _form(expert, "/time/submit", week_start=MONDAY).status_code == 303
    sheet = db.scalar(select(Timesheet).where(Timesheet.user_id == world.expert_a.id))
    assert sheet is not None
    page = operator.get("/payroll").text
    assert "1 requested adjustment for this week is waiting" in page
    refused = _form(operator, f"/payroll/timesheets/{sheet.id}/approve")
    assert refused.status_code == 409
    assert "waiting for a decision; approve or reject them first" in refused.text
    db.expire_all()
    assert db.get(Timesheet, sheet.id).status == TimesheetStatus.submitted  # type: ignore[union-attr]
