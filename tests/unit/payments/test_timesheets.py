"""Timesheets: tracked time plus approved adjustments under the weekly cap, priced at the rate in
force on the week's Monday, frozen and posted as one transaction on approval."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.payments import ledger, rates, timesheets
from expertloop.payments.models import (
    AdjustmentStatus,
    LedgerTransaction,
    TimeAdjustment,
    Timesheet,
    TimesheetLine,
    TimesheetStatus,
)
from tests.factories import make_project, staff
from tests.unit.payments.conftest import (
    A_BASE,
    A_ON_PROJECT_A,
    B_BASE,
    B_RAISED,
    CUTOFF,
    MARGIN_B_BP,
    MARGIN_BP,
    PROJECT_A_RATE,
    Pay,
    add_beats,
    at,
    margin_on,
    monday,
    pay_for,
)

WEEK = monday(1)  # expert A is paid project A's rate this week


def _week(pay: Pay, user_id: int, week_start: dt.date = WEEK) -> list[timesheets.WeekLine]:
    return timesheets.compute_week(
        session=pay.db,
        user_id=user_id,
        week_start=week_start,
        idle_cutoff=CUTOFF,
        default_margin_bp=MARGIN_BP,
    )


def _entries(pay: Pay, sheet: Timesheet) -> dict[tuple[str, int | None], int]:
    assert sheet.transaction_id is not None
    return {
        (e.account, e.project_id): e.amount_minor
        for e in ledger.entries_of(session=pay.db, transaction_id=sheet.transaction_id)
    }


def test_tracked_time_is_priced_and_posted_as_one_transaction(pay: Pay) -> None:
    tracked = add_beats(pay.db, pay.expert_a, pay.project_a, at(WEEK, 9), 61, 60)  # 1 h
    tracked += add_beats(pay.db, pay.expert_a, pay.project_a, at(WEEK + dt.timedelta(2)), 21, 90)
    assert tracked == 3600 + 1800
    sheet = pay.approve_week(pay.expert_a, WEEK)
    assert sheet.status == TimesheetStatus.approved
    assert sheet.decided_by_id == pay.operator.id
    [line] = timesheets.lines_of(session=pay.db, timesheet_id=sheet.id)
    cost = pay_for(5400, PROJECT_A_RATE)  # 1.5 h at 75.50 = 113.25
    assert cost == 113_25
    assert (line.tracked_seconds, line.capped_seconds, line.hourly_minor) == (
        5400,
        5400,
        PROJECT_A_RATE,
    )
    assert (line.amount_minor, line.margin_minor, line.currency) == (
        cost,
        margin_on(cost, MARGIN_BP),
        "USD",
    )
    txn = pay.db.get(LedgerTransaction, sheet.transaction_id)
    assert txn is not None and txn.kind == "time"
    assert txn.effective_on == WEEK + dt.timedelta(days=6)  # the Sunday that ends the week
    assert _entries(pay, sheet) == {
        ("client_receivable", pay.project_a.id): cost + margin_on(cost, MARGIN_BP),
        ("expert_payable", pay.project_a.id): -cost,
        ("platform_revenue", pay.project_a.id): -margin_on(cost, MARGIN_BP),
    }


def test_gaps_longer_than_the_idle_cutoff_count_nothing(pay: Pay) -> None:
    add_beats(pay.db, pay.expert_a, pay.project_a, at(WEEK, 9), 3, 300)  # 600 s: counts
    add_beats(pay.db, pay.expert_a, pay.project_a, at(WEEK, 12), 3, 301)  # idle: nothing
    [line] = _week(pay, pay.expert_a.id)
    assert line.tracked_seconds == 600


def test_the_weekly_cap_limits_what_is_paid(pay: Pay) -> None:
    for day in range(3):  # 3 x 100 min = 5 h on project A, capped at 4 h
        add_beats(pay.db, pay.expert_a, pay.project_a, at(WEEK + dt.timedelta(day)), 101, 60)
    [line] = _week(pay, pay.expert_a.id)
    assert (line.tracked_seconds, line.capped_seconds, line.cap_minutes) == (18_000, 14_400, 240)
    sheet = pay.approve_week(pay.expert_a, WEEK)
    [frozen] = timesheets.lines_of(session=pay.db, timesheet_id=sheet.id)
    assert frozen.amount_minor == 4 * PROJECT_A_RATE == 302_00
    assert frozen.margin_minor == 75_50


def test_approved_adjustments_count_and_others_do_not(pay: Pay) -> None:
    add_beats(pay.db, pay.expert_a, pay.project_a, at(WEEK, 9), 61, 60)  # 1 h
    pay.adjust(pay.expert_a, pay.project_a, WEEK, 30)
    pay.adjust(pay.expert_a, pay.project_a, WEEK + dt.timedelta(days=3), -10)
    pay.adjust(pay.expert_a, pay.project_a, WEEK + dt.timedelta(days=4), 45, approve=False)
    pending = timesheets.request_adjustment(  # still waiting for a decision
        session=pay.db,
        actor=pay.expert_a,
        project=pay.project_a,
        work_date=WEEK,
        minutes=15,
        reason="Pending",
    )
    pay.adjust(pay.expert_a, pay.project_a, WEEK + dt.timedelta(days=7), 60)  # the next week
    [line] = _week(pay, pay.expert_a.id)
    assert (line.tracked_seconds, line.adjustment_seconds, line.capped_seconds) == (
        3600,
        20 * 60,
        4800,
    )
    # A week with an undecided adjustment is not approved: it would be frozen without it.
    submitted = pay.submit(pay.expert_a, WEEK)
    with pytest.raises(Conflict, match="1 requested adjustment"):
        pay.approve(submitted)
    timesheets.decide_adjustment(
        session=pay.db, actor=pay.operator, adjustment_id=pending.id, approve=False
    )
    sheet = pay.approve(submitted)
    [frozen] = timesheets.lines_of(session=pay.db, timesheet_id=sheet.id)
    assert frozen.amount_minor == pay_for(4800, PROJECT_A_RATE) == 100_67  # 100.666... rounds up
    assert frozen.margin_minor == margin_on(100_67, MARGIN_BP) == 25_17


def test_adjustments_alone_make_a_line_and_never_go_below_zero(pay: Pay) -> None:
    pay.adjust(pay.expert_a, pay.project_b, WEEK, 90)  # no tracked time on project B
    add_beats(pay.db, pay.expert_a, pay.project_a, at(WEEK, 9), 11, 60)  # 10 min
    pay.adjust(pay.expert_a, pay.project_a, WEEK, -30)
    lines = {line.project_id: line for line in _week(pay, pay.expert_a.id)}
    assert lines[pay.project_b.id].capped_seconds == 5400
    assert lines[pay.project_a.id].capped_seconds == 0
    sheet = pay.approve_week(pay.expert_a, WEEK)
    frozen = {
        li.project_id: li for li in timesheets.lines_of(session=pay.db, timesheet_id=sheet.id)
    }
    assert frozen[pay.project_a.id].amount_minor == 0
    assert frozen[pay.project_b.id].amount_minor == pay_for(5400, A_BASE) == 180_00
    assert frozen[pay.project_b.id].margin_minor == margin_on(180_00, MARGIN_B_BP) == 31_50
    assert set(_entries(pay, sheet)) == {
        ("client_receivable", pay.project_b.id),
        ("expert_payable", pay.project_b.id),
        ("platform_revenue", pay.project_b.id),
    }


def test_an_approved_week_is_frozen(pay: Pay) -> None:
    early = timesheets.request_adjustment(
        session=pay.db,
        actor=pay.expert_a,
        project=pay.project_a,
        work_date=WEEK + dt.timedelta(days=2),
        minutes=30,
        reason="Call with the client",
    )
    add_beats(pay.db, pay.expert_a, pay.project_a, at(WEEK, 9), 61, 60)
    submitted = pay.submit(pay.expert_a, WEEK)
    with pytest.raises(Conflict, match="waiting for a decision"):
        pay.approve(submitted)  # the early request is decided first
    rejected = timesheets.decide_adjustment(
        session=pay.db, actor=pay.operator, adjustment_id=early.id, approve=False
    )
    assert rejected.status == AdjustmentStatus.rejected
    sheet = pay.approve(submitted)
    with pytest.raises(Conflict, match="frozen"):
        timesheets.request_adjustment(
            session=pay.db,
            actor=pay.expert_a,
            project=pay.project_a,
            work_date=WEEK + dt.timedelta(days=6),
            minutes=30,
            reason="Forgot",
        )
    # A request row written behind the approval's back (requests lock the sheet, so only a
    # direct write can do this) is never approved into a frozen week.
    late = TimeAdjustment(
        user_id=pay.expert_a.id,
        project_id=pay.project_a.id,
        work_date=WEEK + dt.timedelta(days=5),
        minutes=30,
        reason="Raced the approval",
    )
    pay.db.add(late)
    pay.db.flush()
    with pytest.raises(Conflict, match="frozen"):
        timesheets.decide_adjustment(
            session=pay.db, actor=pay.operator, adjustment_id=late.id, approve=True
        )
    [line] = timesheets.lines_of(session=pay.db, timesheet_id=sheet.id)
    assert line.capped_seconds == 3600  # the frozen line did not move
    # The week after is open.
    timesheets.request_adjustment(
        session=pay.db,
        actor=pay.expert_a,
        project=pay.project_a,
        work_date=WEEK + dt.timedelta(days=7),
        minutes=30,
        reason="Next week",
    )


def test_adjustment_validation_and_single_decision(pay: Pay) -> None:
    def request(minutes: int, reason: str = "Because") -> object:
        return timesheets.request_adjustment(
            session=pay.db,
            actor=pay.expert_a,
            project=pay.project_a,
            work_date=WEEK,
            minutes=minutes,
            reason=reason,
        )

    for minutes in (0, 1441, -1441):
        with pytest.raises(ValidationFailed):
            request(minutes)
    with pytest.raises(ValidationFailed, match="why"):
        request(30, "   ")
    row = timesheets.request_adjustment(
        session=pay.db,
        actor=pay.expert_a,
        project=pay.project_a,
        work_date=WEEK,
        minutes=1440,
        reason="A full day",
    )
    timesheets.decide_adjustment(
        session=pay.db, actor=pay.operator, adjustment_id=row.id, approve=True
    )
    with pytest.raises(Conflict, match="already approved"):
        timesheets.decide_adjustment(
            session=pay.db, actor=pay.operator, adjustment_id=row.id, approve=False
        )


def test_submit_return_resubmit_approve(pay: Pay) -> None:
    sheet = pay.submit(pay.expert_a, WEEK)
    assert sheet.status == TimesheetStatus.submitted and sheet.submitted_at is not None
    with pytest.raises(Conflict, match="already submitted"):
        pay.submit(pay.expert_a, WEEK)
    with pytest.raises(ValidationFailed, match="what to fix"):
        timesheets.return_sheet(session=pay.db, actor=pay.operator, sheet=sheet, comment=" ")
    timesheets.return_sheet(
        session=pay.db, actor=pay.operator, sheet=sheet, comment="Missing Tuesday"
    )
    assert (sheet.status, sheet.comment) == (TimesheetStatus.returned, "Missing Tuesday")
    with pytest.raises(Conflict, match="Only a submitted"):
        pay.approve(sheet)
    with pytest.raises(Conflict):
        timesheets.return_sheet(session=pay.db, actor=pay.operator, sheet=sheet, comment="Again")
    again = pay.submit(pay.expert_a, WEEK)
    assert again.id == sheet.id and again.status == TimesheetStatus.submitted
    pay.approve(again)
    assert again.status == TimesheetStatus.approved
    for attempt in (
        lambda: pay.submit(pay.expert_a, WEEK),
        lambda: pay.approve(again),
        lambda: timesheets.return_sheet(
            session=pay.db, actor=pay.operator, sheet=again, comment="Too late"
        ),
    ):
        with pytest.raises(Conflict, match="approved"):
            attempt()


def test_a_week_starts_on_a_monday_and_is_submitted_once_over(pay: Pay) -> None:
    with pytest.raises(ValidationFailed, match="Monday"):
        pay.submit(pay.expert_a, WEEK + dt.timedelta(days=1))
    for today in (monday(10) - dt.timedelta(1), monday(10), monday(10) + dt.timedelta(6)):
        with pytest.raises(ValidationFailed, match="once it is over"):
            timesheets.submit(
                session=pay.db, actor=pay.expert_a, week_start=monday(10), today=today
            )
    sheet = timesheets.submit(
        session=pay.db, actor=pay.expert_a, week_start=monday(10), today=monday(11)
    )
    assert sheet.status == TimesheetStatus.submitted


def test_an_empty_week_is_approved_without_a_transaction(pay: Pay) -> None:
    sheet = pay.approve_week(pay.expert_a, WEEK)
    assert sheet.status == TimesheetStatus.approved
    assert sheet.transaction_id is None
    assert timesheets.lines_of(session=pay.db, timesheet_id=sheet.id) == []


def test_one_transaction_for_a_week_on_two_projects(pay: Pay) -> None:
    week = monday(6)  # expert A has their own rate on project A from week 5
    add_beats(pay.db, pay.expert_a, pay.project_a, at(week, 9), 31, 60)  # 30 min
    add_beats(pay.db, pay.expert_a, pay.project_b, at(week, 14), 46, 60)  # 45 min
    sheet = pay.approve_week(pay.expert_a, week)
    lines = {li.project_id: li for li in timesheets.lines_of(session=pay.db, timesheet_id=sheet.id)}
    assert lines[pay.project_a.id].hourly_minor == A_ON_PROJECT_A
    assert lines[pay.project_a.id].amount_minor == 100_00
    assert lines[pay.project_b.id].hourly_minor == A_BASE
    assert lines[pay.project_b.id].amount_minor == 90_00
    assert pay.db.scalar(select(func.count(LedgerTransaction.id))) == 1
    assert ledger.balance(session=pay.db, account="expert_payable", user_id=pay.expert_a.id) == {
        "USD": -190_00
    }
    assert ledger.balance(session=pay.db, account="platform_revenue") == {
        "USD": -(25_00 + margin_on(90_00, MARGIN_B_BP))
    }


def test_the_rate_in_force_on_monday_prices_the_whole_week(pay: Pay) -> None:
    week = monday(9)  # expert B's raise starts this Monday
    add_beats(pay.db, pay.expert_b, pay.project_b, at(week + dt.timedelta(days=1)), 61, 60)
    rates.set_rate(  # a raise from Wednesday counts from next week only
        session=pay.db,
        actor=pay.operator,
        user_id=pay.expert_b.id,
        currency="EUR",
        hourly_minor=500_00,
        effective_from=week + dt.timedelta(days=2),
    )
    earlier = monday(8)
    add_beats(pay.db, pay.expert_b, pay.project_b, at(earlier + dt.timedelta(days=6), 20), 61, 60)
    old = pay.approve_week(pay.expert_b, earlier)  # approved after the raise was set
    new = pay.approve_week(pay.expert_b, week)
    [old_line] = timesheets.lines_of(session=pay.db, timesheet_id=old.id)
    [new_line] = timesheets.lines_of(session=pay.db, timesheet_id=new.id)
    assert (old_line.hourly_minor, old_line.currency) == (B_BASE, "EUR")
    assert (new_line.hourly_minor, new_line.amount_minor) == (B_RAISED, B_RAISED)


def test_no_rate_is_a_clear_error_and_writes_nothing(pay: Pay) -> None:
    project_c = make_project(pay.db, pay.world.org_a, pay.operator, "Unpriced project")
    staff(pay.db, project_c, pay.reviewer_a)
    add_beats(pay.db, pay.reviewer_a, pay.project_a, at(WEEK, 9), 61, 60)  # priced
    add_beats(pay.db, pay.reviewer_a, project_c, at(WEEK, 14), 61, 60)  # no rate at all
    sheet = pay.submit(pay.reviewer_a, WEEK)
    with pytest.raises(ValidationFailed, match=r"No hourly rate .* Unpriced project .* set one"):
        pay.approve(sheet)
    assert sheet.status == TimesheetStatus.submitted
    assert pay.db.scalar(select(func.count(TimesheetLine.id))) == 0
    assert pay.db.scalar(select(func.count(LedgerTransaction.id))) == 0
    rates.set_rate(
        session=pay.db,
        actor=pay.operator,
        project_id=project_c.id,
        currency="USD",
        hourly_minor=60_00,
        effective_from=WEEK,
    )
    pay.approve(sheet)
    assert sorted(
        li.amount_minor for li in timesheets.lines_of(session=pay.db, timesheet_id=sheet.id)
    ) == [60_00, PROJECT_A_RATE]


def test_permissions_of_timesheets(pay: Pay) -> None:
    with pytest.raises(PermissionDenied):
        pay.submit(pay.operator, WEEK)
    with pytest.raises(PermissionDenied):
        pay.submit(pay.world.client_a, WEEK)
    sheet = pay.submit(pay.expert_a, WEEK)
    for actor in (pay.expert_a, pay.expert_b, pay.reviewer_a, pay.world.client_a):
        with pytest.raises(PermissionDenied):
            timesheets.approve(
                session=pay.db,
                actor=actor,
                sheet=sheet,
                idle_cutoff=CUTOFF,
                default_margin_bp=MARGIN_BP,
            )
        with pytest.raises(PermissionDenied):
            timesheets.return_sheet(session=pay.db, actor=actor, sheet=sheet, comment="No")
    row = timesheets.request_adjustment(
        session=pay.db,
        actor=pay.expert_a,
        project=pay.project_a,
        work_date=WEEK,
        minutes=600,
        reason="Trust me",
    )
    with pytest.raises(PermissionDenied):
        timesheets.decide_adjustment(
            session=pay.db, actor=pay.expert_a, adjustment_id=row.id, approve=True
        )
    with pytest.raises(PermissionDenied):
        timesheets.request_adjustment(
            session=pay.db,
            actor=pay.world.client_a,
            project=pay.project_a,
            work_date=WEEK,
            minutes=60,
            reason="Client",
        )
    assert sheet.status == TimesheetStatus.submitted


def test_experts_see_only_their_own_timesheets(pay: Pay) -> None:
    mine = pay.submit(pay.expert_a, WEEK)
    theirs = pay.submit(pay.expert_b, WEEK)
    got = timesheets.get_sheet(session=pay.db, actor=pay.expert_a, timesheet_id=mine.id)
    assert got.id == mine.id
    for actor in (pay.expert_a, pay.world.client_b, pay.reviewer_a):
        with pytest.raises(NotFound):
            timesheets.get_sheet(session=pay.db, actor=actor, timesheet_id=theirs.id)
    assert timesheets.get_sheet(session=pay.db, actor=pay.operator, timesheet_id=theirs.id)
    assert [s.id for s in timesheets.list_sheets(session=pay.db, actor=pay.expert_a)] == [mine.id]
    assert {s.id for s in timesheets.list_sheets(session=pay.db, actor=pay.operator)} >= {
        mine.id,
        theirs.id,
    }
    assert [
        s.id
        for s in timesheets.list_sheets(session=pay.db, actor=pay.expert_a, user_id=pay.expert_b.id)
    ] == [mine.id]
