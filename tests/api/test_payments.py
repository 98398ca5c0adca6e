"""The payments API: the week-to-statement flow, idempotent payout runs, and who sees what money."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.payments import ledger, rates
from expertloop.payments.models import Payout
from expertloop.workbench import activity
from expertloop.workbench.access import project_access
from tests.factories import World, make_project, staff

WEEK = "2026-11-16"
MONDAY = dt.datetime(2026, 11, 16, 9, 0, tzinfo=dt.UTC)


def _work(db: Session, world: World, minutes: int) -> None:
    """Expert A works ``minutes`` on project A on Monday morning (a heartbeat every 30 s)."""
    access = project_access(session=db, actor=world.expert_a, project_id=world.project_a.id)
    for i in range(minutes * 2 + 1):
        activity.record(session=db, access=access, now=MONDAY + dt.timedelta(seconds=30 * i))


def _setup_week(login_as, world: World, db: Session):  # type: ignore[no-untyped-def]
    op = login_as(world.operator)
    expert = login_as(world.expert_a)
    rate = op.post(
        "/api/v1/rates",
        json={"user_id": world.expert_a.id, "currency": "USD", "hourly_minor": 18_750,
              "effective_from": "2026-11-01"},
    )  # fmt: skip
    assert rate.status_code == 201, rate.text
    _work(db, world, 90)  # 1 h 30 min tracked
    adj = expert.post(
        "/api/v1/time-adjustments",
        json={"project_id": world.project_a.id, "work_date": "2026-11-17", "minutes": 100,
              "reason": "Reviewed the client's spreadsheet offline"},
    )  # fmt: skip
    assert adj.status_code == 201, adj.text
    assert op.post(f"/api/v1/time-adjustments/{adj.json()['id']}/approve").status_code == 200
    return op, expert


def test_week_to_statement_to_the_cent(login_as, world: World, db: Session) -> None:
    op, expert = _setup_week(login_as, world, db)
    week = expert.get("/api/v1/me/time", params={"week": "2026-11-19"}).json()
    assert week["week_start"] == WEEK and week["status"] == "open"
    (line,) = week["lines"]
    assert (line["tracked_seconds"], line["adjustment_seconds"]) == (5400, 6000)

    sheet = expert.post("/api/v1/timesheets", json={"week_start": WEEK})
    assert sheet.status_code == 201 and sheet.json()["status"] == "submitted"
    sheet_id = sheet.json()["id"]
    assert expert.post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 403
    approved = op.post(f"/api/v1/timesheets/{sheet_id}/approve")
    assert approved.status_code == 200, approved.text
    (frozen,) = approved.json()["lines"]
    # 11,400 s at USD 187.50/h = 593.75 exactly; margin 25 % = 148.4375 -> 148.44 (half up).
    assert frozen["capped_seconds"] == 11_400
    assert frozen["amount_minor"] == 59_375

    # Frozen: a new adjustment for that week is refused.
    late = expert.post(
        "/api/v1/time-adjustments",
        json={"project_id": world.project_a.id, "work_date": "2026-11-18", "minutes": 5,
              "reason": "forgot"},
    )  # fmt: skip
    assert late.status_code == 409

    headers = {"Idempotency-Key": "nov-week-3"}
    body = {"period_start": WEEK, "period_end": "2026-11-22"}
    preview = op.post("/api/v1/payout-runs", json={**body, "dry_run": True}, headers=headers)
    assert preview.json()["dry_run"] is True
    assert preview.json()["payouts"] == [
        {"user_id": world.expert_a.id, "currency": "USD", "amount_minor": 59_375}
    ]
    run = op.post("/api/v1/payout-runs", json=body, headers=headers)
    assert run.status_code == 201, run.text
    assert run.json()["totals"] == {"USD": 59_375}
    again = op.post("/api/v1/payout-runs", json=body, headers=headers)
    assert again.status_code == 200
    assert {**again.json(), "created": True} == run.json()
    other_period = op.post(
        "/api/v1/payout-runs", json={**body, "period_end": "2026-11-23"}, headers=headers
    )
    assert other_period.status_code == 409
    second_key = op.post("/api/v1/payout-runs", json=body, headers={"Idempotency-Key": "k2"})
    assert second_key.status_code == 201 and second_key.json()["payouts"] == []
    assert op.post("/api/v1/payout-runs", json=body).status_code == 422  # the key is required

    statement = expert.get(
        f"/api/v1/users/{world.expert_a.id}/statement",
        params={"from": "2026-11-01", "to": "2026-11-30"},
    ).json()
    assert statement["earned"] == {"USD": 59_375}
    assert statement["paid"] == {"USD": 59_375}
    assert statement["closing"] == {"USD": 0}
    assert "1.58 h" not in statement["lines"][0]["description"]
    assert "3.17 h at USD 187.50/h" in statement["lines"][0]["description"]
    csv_text = expert.get(
        f"/api/v1/users/{world.expert_a.id}/statement",
        params={"from": "2026-11-01", "to": "2026-11-30", "format": "csv"},
    ).text
    assert "USD 593.75" in csv_text

    payout_file = op.get(f"/api/v1/payout-runs/{run.json()['id']}/file")
    assert payout_file.headers["content-type"].startswith("text/csv")
    assert world.expert_a.email in payout_file.text and "593.75" in payout_file.text

    invoice = login_as(world.client_a).get(
        f"/api/v1/projects/{world.project_a.id}/invoice",
        params={"from": "2026-11-01", "to": "2026-11-30"},
    )
    assert invoice.status_code == 200
    assert invoice.json()["totals"] == {"USD": 59_375 + 14_844}
    assert world.expert_a.name not in invoice.text  # expert personal data stays private

    earnings = expert.get("/api/v1/me/earnings").json()
    assert earnings["lifetime"] == {"USD": 59_375}
    assert earnings["pending"] == {"USD": 0}
    assert earnings["weeks"][0]["hours"] == 3.17


def test_every_transaction_balances(login_as, world: World, db: Session) -> None:
    op, expert = _setup_week(login_as, world, db)
    sheet_id = expert.post("/api/v1/timesheets", json={"week_start": WEEK}).json()["id"]
    txn_id = op.post(f"/api/v1/timesheets/{sheet_id}/approve").json()["transaction_id"]
    bonus = op.post(
        "/api/v1/bonuses",
        json={"user_id": world.expert_a.id, "project_id": world.project_a.id, "currency": "USD",
              "amount_minor": 25_000, "reason": "Exceptional ideal answers"},
        headers={"Idempotency-Key": "bonus-1"},
    )  # fmt: skip
    assert bonus.status_code == 201, bonus.text
    repeat = op.post(
        "/api/v1/bonuses",
        json={"user_id": world.expert_a.id, "project_id": world.project_a.id, "currency": "USD",
              "amount_minor": 25_000, "reason": "Exceptional ideal answers"},
        headers={"Idempotency-Key": "bonus-1"},
    )  # fmt: skip
    assert repeat.json()["id"] == bonus.json()["id"]
    reversal = op.post(f"/api/v1/ledger/transactions/{txn_id}/reverse", json={"reason": "typo"})
    assert reversal.status_code == 201
    twice = op.post(f"/api/v1/ledger/transactions/{txn_id}/reverse", json={"reason": "again"})
    assert twice.status_code == 409
    owed = ledger.balance(session=db, account=ledger.EXPERT_PAYABLE, user_id=world.expert_a.id)
    assert owed == {"USD": -25_000}  # the reversed week is gone, the bonus stays
    total = sum(
        e.amount_minor
        for _t, e in ledger.statement_entries(session=db, account=ledger.EXPERT_PAYABLE)
    ) + sum(
        ledger.balance(session=db, account=a).get("USD", 0)
        for a in (ledger.CLIENT_RECEIVABLE, ledger.PLATFORM_REVENUE, ledger.CASH)
    )
    assert total == 0


def test_money_is_private(login_as, world: World, db: Session) -> None:
    op, expert = _setup_week(login_as, world, db)
    sheet_id = expert.post("/api/v1/timesheets", json={"week_start": WEEK}).json()["id"]
    other_expert = login_as(world.expert_b)
    client = login_as(world.client_a)
    # Another expert: 404 on A's timesheet and statement; their own lists are empty.
    assert other_expert.get(f"/api/v1/timesheets/{sheet_id}").status_code == 404
    assert other_expert.get(f"/api/v1/users/{world.expert_a.id}/statement").status_code == 404
    assert other_expert.get("/api/v1/timesheets").json() == []
    assert other_expert.get("/api/v1/time-adjustments").json() == []
    # The expert sees their own; operators see everyone's.
    assert expert.get(f"/api/v1/timesheets/{sheet_id}").status_code == 200
    assert [t["id"] for t in op.get("/api/v1/timesheets").json()] == [sheet_id]
    # An expert's rates: only their own.
    assert {r["user_id"] for r in expert.get("/api/v1/rates").json()} == {world.expert_a.id}
    assert other_expert.get("/api/v1/rates").json() == []
    # Clients: their own project's invoice only; never an expert's statement; no payroll.
    assert client.get(f"/api/v1/projects/{world.project_a.id}/invoice").status_code == 200
    assert client.get(f"/api/v1/projects/{world.project_b.id}/invoice").status_code == 404
    assert client.get(f"/api/v1/users/{world.expert_a.id}/statement").status_code == 404
    assert client.get("/api/v1/payout-runs").status_code == 403
    # A staffed expert sees the project but not its invoice.
    assert expert.get(f"/api/v1/projects/{world.project_a.id}/invoice").status_code == 404
    # Only operators run payroll.
    body = {"period_start": WEEK, "period_end": "2026-11-22"}
    assert (
        expert.post("/api/v1/payout-runs", json=body, headers={"Idempotency-Key": "x"}).status_code
        == 403
    )
    assert (
        expert.post(
            "/api/v1/rates",
            json={
                "user_id": world.expert_a.id,
                "currency": "USD",
                "hourly_minor": 99_999,
                "effective_from": "2026-11-01",
            },
        ).status_code
        == 403
    )


def test_bad_input_gets_clear_errors(login_as, world: World, db: Session) -> None:
    op, expert = _setup_week(login_as, world, db)
    not_monday = expert.post("/api/v1/timesheets", json={"week_start": "2026-11-17"})
    assert not_monday.status_code == 422
    assert "Monday" in not_monday.json()["error"]["message"]
    future = expert.post("/api/v1/timesheets", json={"week_start": "2099-01-05"})
    assert future.status_code == 422
    bad_currency = op.post(
        "/api/v1/rates",
        json={"user_id": world.expert_a.id, "currency": "us1", "hourly_minor": 100,
              "effective_from": "2026-11-01"},
    )  # fmt: skip
    assert bad_currency.status_code == 422
    no_reason = expert.post(
        "/api/v1/time-adjustments",
        json={"project_id": world.project_a.id, "work_date": "2026-11-17", "minutes": 10,
              "reason": "   "},
    )  # fmt: skip
    assert no_reason.status_code == 422
    # A week with time on a project where no rate applies: a clear refusal, nothing posted.
    other = login_as(world.expert_b)
    adj = other.post(
        "/api/v1/time-adjustments",
        json={"project_id": world.project_b.id, "work_date": "2026-11-17", "minutes": 60,
              "reason": "Call with the client"},
    )  # fmt: skip
    op.post(f"/api/v1/time-adjustments/{adj.json()['id']}/approve")
    sheet_id = other.post("/api/v1/timesheets", json={"week_start": WEEK}).json()["id"]
    refused = op.post(f"/api/v1/timesheets/{sheet_id}/approve")
    assert refused.status_code == 422
    assert "No hourly rate applies" in refused.json()["error"]["message"]
    assert other.get(f"/api/v1/timesheets/{sheet_id}").json()["status"] == "submitted"
    backwards = op.post(
        "/api/v1/payout-runs",
        json={"period_start": "2026-11-22", "period_end": "2026-11-16"},
        headers={"Idempotency-Key": "k"},
    )
    assert backwards.status_code == 422


def test_reversals_reopen_the_week_and_unpay_a_payout(login_as, world: World, db: Session) -> None:
    op, expert = _setup_week(login_as, world, db)
    sheet_id = expert.post("/api/v1/timesheets", json={"week_start": WEEK}).json()["id"]
    first = op.post(f"/api/v1/timesheets/{sheet_id}/approve").json()
    reversed_week = op.post(
        f"/api/v1/ledger/transactions/{first['transaction_id']}/reverse",
        json={"reason": "Wrong rate"},
    )
    assert reversed_week.status_code == 201
    reopened = expert.get(f"/api/v1/timesheets/{sheet_id}").json()
    assert reopened["status"] == "returned" and reopened["lines"] == []
    assert "Wrong rate" in reopened["comment"]
    # The expert submits again; approval posts anew at the (corrected) rate.
    op.post(
        "/api/v1/rates",
        json={"user_id": world.expert_a.id, "currency": "USD", "hourly_minor": 20_000,
              "effective_from": "2026-11-16"},
    )  # fmt: skip
    expert.post("/api/v1/timesheets", json={"week_start": WEEK})
    second = op.post(f"/api/v1/timesheets/{sheet_id}/approve").json()
    assert second["lines"][0]["amount_minor"] == 63_333  # 11,400 s at 200.00/h = 633.333…
    assert second["transaction_id"] != first["transaction_id"]

    body = {"period_start": WEEK, "period_end": "2026-11-22"}
    run = op.post("/api/v1/payout-runs", json=body, headers={"Idempotency-Key": "p1"}).json()
    payout_txn = db.scalar(select(Payout.transaction_id).where(Payout.run_id == run["id"]))
    assert (
        op.post(
            f"/api/v1/ledger/transactions/{payout_txn}/reverse", json={"reason": "Bank bounced it"}
        ).status_code
        == 201
    )
    earnings = expert.get("/api/v1/me/earnings").json()
    assert earnings["lifetime"] == {"USD": 63_333}  # un-paying does not un-earn
    assert earnings["paid"] == {"USD": 0}
    assert earnings["pending"] == {"USD": 63_333}
    again = op.post("/api/v1/payout-runs", json=body, headers={"Idempotency-Key": "p2"}).json()
    assert again["totals"] == {"USD": 63_333}
    assert (
        login_as(world.expert_b)
        .post(f"/api/v1/ledger/transactions/{payout_txn}/reverse", json={"reason": "x"})
        .status_code
        == 404
    )


def test_review_findings_stay_fixed(login_as, world: World, db: Session) -> None:
    op, expert = _setup_week(login_as, world, db)
    # A bonus goes only to an expert or reviewer staffed on the project.
    stray = op.post(
        "/api/v1/bonuses",
        json={"user_id": world.client_b.id, "project_id": world.project_a.id, "currency": "USD",
              "amount_minor": 100, "reason": "oops"},
    )  # fmt: skip
    assert stray.status_code == 422
    # One idempotency key names one bonus.
    body = {"user_id": world.expert_a.id, "project_id": world.project_a.id, "currency": "USD",
            "amount_minor": 100, "reason": "Thanks"}  # fmt: skip
    assert (
        op.post("/api/v1/bonuses", json=body, headers={"Idempotency-Key": "b"}).status_code == 201
    )
    other = {**body, "user_id": world.reviewer_a.id}
    assert (
        op.post("/api/v1/bonuses", json=other, headers={"Idempotency-Key": "b"}).status_code == 409
    )
    # A payout period cannot end in the future.
    future = op.post(
        "/api/v1/payout-runs",
        json={"period_start": WEEK, "period_end": "2099-01-01"},
        headers={"Idempotency-Key": "f"},
    )
    assert future.status_code == 422
    # A reversed payout leaves its run and its payout file.
    sheet_id = expert.post("/api/v1/timesheets", json={"week_start": WEEK}).json()["id"]
    op.post(f"/api/v1/timesheets/{sheet_id}/approve")
    run = op.post(
        "/api/v1/payout-runs",
        json={"period_start": WEEK, "period_end": "2026-11-22"},
        headers={"Idempotency-Key": "r"},
    ).json()
    payout_txn = db.scalar(select(Payout.transaction_id).where(Payout.run_id == run["id"]))
    op.post(f"/api/v1/ledger/transactions/{payout_txn}/reverse", json={"reason": "bounced"})
    assert op.get(f"/api/v1/payout-runs/{run['id']}").json()["payouts"] == []
    assert world.expert_a.email not in op.get(f"/api/v1/payout-runs/{run['id']}/file").text
    # Numbers and dates beyond what the database holds are the input's fault, not a crash.
    assert op.get(f"/api/v1/timesheets/{2**70}").status_code in (404, 422)
    assert expert.get("/api/v1/me/time", params={"week": "9999-12-31"}).status_code == 422
    assert (
        expert.get(
            f"/api/v1/users/{world.expert_a.id}/statement", params={"from": "0001-01-01"}
        ).status_code
        == 422
    )


def test_project_completion_pays_completion_bonuses_once(
    login_as, world: World, db: Session
) -> None:
    from expertloop.events import recent
    from expertloop.types import utcnow
    from expertloop.workbench.models import Status
    from tests.factories import make_problem_set

    op = login_as(world.operator)
    rule = op.post(
        f"/api/v1/projects/{world.project_a.id}/bonus-rules",
        json={"kind": "completion", "currency": "USD", "amount_minor": 300_00, "min_accepted": 2},
    )
    assert rule.status_code == 201, rule.text
    for title in ("One", "Two"):
        ps = make_problem_set(db, world.project_a, world.expert_a, title)
        ps.status, ps.accepted_at = Status.accepted, utcnow()
    db.commit()
    body = {"until": utcnow().date().isoformat(), "completed": True}
    assert op.post("/api/v1/bonuses/evaluate", json=body).status_code == 422  # which project?
    done = op.post("/api/v1/bonuses/evaluate", json={**body, "project_id": world.project_a.id})
    assert [(b["user_id"], b["amount_minor"]) for b in done.json()] == [(world.expert_a.id, 300_00)]
    again = op.post("/api/v1/bonuses/evaluate", json={**body, "project_id": world.project_a.id})
    assert again.json() == []
    assert recent(session=db, kind="payments.project_completed", limit=5)
    # Not operators: refused.
    refused = login_as(world.client_a).post(
        "/api/v1/bonuses/evaluate", json={**body, "project_id": world.project_a.id}
    )
    assert refused.status_code == 403


def test_project_complete_button(login_as, world: World, db: Session) -> None:
    op = login_as(world.operator)
    page = op.get(f"/projects/{world.project_a.id}/pay")
    assert "Project complete: award completion bonuses" in page.text
    r = op.post(f"/projects/{world.project_a.id}/pay/complete", data={}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].endswith("?completed=0#rules")
    expert = login_as(world.expert_a)
    assert (
        expert.post(
            f"/projects/{world.project_a.id}/pay/complete", data={}, follow_redirects=False
        ).status_code
        == 403
    )


def test_earnings_per_project_keep_currencies_apart(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    """USD on one project and EUR on another are two rows, never one sum."""
    euro_project = make_project(db, world.org_a, world.operator, "A's euro project")
    staff(db, euro_project, world.expert_a)
    for project, currency, hourly in (
        (world.project_a, "USD", 12_000),
        (euro_project, "EUR", 9_000),
    ):
        rates.set_rate(
            session=db,
            actor=world.operator,
            currency=currency,
            hourly_minor=hourly,
            effective_from=dt.date(2026, 11, 1),
            user_id=world.expert_a.id,
            project_id=project.id,
        )
    _work(db, world, 60)  # 1 h on project A
    access = project_access(session=db, actor=world.expert_a, project_id=euro_project.id)
    start = MONDAY + dt.timedelta(hours=3)
    for i in range(30 * 2 + 1):  # 30 min on the euro project
        activity.record(session=db, access=access, now=start + dt.timedelta(seconds=30 * i))
    db.commit()
    expert, op = login_as(world.expert_a), login_as(world.operator)
    sheet = expert.post("/api/v1/timesheets", json={"week_start": WEEK})
    assert sheet.status_code == 201, sheet.text
    assert op.post(f"/api/v1/timesheets/{sheet.json()['id']}/approve").status_code == 200

    projects = expert.get("/api/v1/me/earnings").json()["projects"]
    assert projects == [  # by project name: "A's confidential project", "A's euro project"
        {"project_id": world.project_a.id, "project": world.project_a.name, "currency": "USD",
         "amount_minor": 12_000},
        {"project_id": euro_project.id, "project": "A's euro project", "currency": "EUR",
         "amount_minor": 4_500},
    ]  # fmt: skip
    page = expert.get("/earnings").text
    table = page.split('data-testid="earnings-projects"')[1].split("</table>")[0]
    assert "EUR 45.00" in table and "USD 120.00" in table
