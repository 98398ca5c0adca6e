"""Weekly timesheets from tracked time: adjustments, caps, submit, approve (post), return.

A week runs Monday 00:00 to the next Monday 00:00 UTC. Tracked time comes from the workbench's
activity heartbeats; approved adjustments add or remove minutes; the project's weekly cap then
applies. Approval freezes the lines and posts them to the ledger in the same transaction, so a
crash leaves both or neither.

Operators review every timesheet and adjustment. A project's lead (staffed as ``lead``) reviews
an expert's week when all of its time is on projects they lead, and the adjustments on those
projects; never their own. A lead sees hours, never rates or pay.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.payments import events, ledger, money, postings, rates
from expertloop.payments.models import (
    AdjustmentStatus,
    Rate,
    TimeAdjustment,
    Timesheet,
    TimesheetLine,
    TimesheetStatus,
)
from expertloop.payments.policies import can_run_payroll, can_see_user_money, earns
from expertloop.projects.models import Project, Staffing, StaffRole
from expertloop.projects.projects import nda_cleared
from expertloop.types import utcnow
from expertloop.workbench import activity
from expertloop.workbench.models import Heartbeat

MAX_ADJUSTMENT_MINUTES = 24 * 60


class Decision(enum.StrEnum):
    """An operator's (or the project lead's) answer to a requested adjustment."""

    approve = "approve"
    reject = "reject"


def week_of(day: dt.date) -> dt.date:
    """Return the Monday that starts ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def _bounds(week_start: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(week_start, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=7)


@dataclass(frozen=True)
class WeekLine:
    """One project's time in a week, before or after approval."""

    project_id: int
    tracked_seconds: int
    adjustment_seconds: int
    capped_seconds: int
    cap_minutes: int | None


def compute_week(
    *,
    session: Session,
    user_id: int,
    week_start: dt.date,
    idle_cutoff: dt.timedelta,
    default_margin_bp: int,
) -> list[WeekLine]:
    """Add up a user's week per project: tracked + approved adjustments, then the cap."""
    since, until = _bounds(week_start)
    tracked = activity.tracked(
        session=session, user_id=user_id, since=since, until=until, idle_cutoff=idle_cutoff
    )
    per_project: dict[int, float] = defaultdict(float)
    for (project_id, _ps), seconds in tracked.seconds.items():
        per_project[project_id] += seconds
    adjustments: dict[int, int] = defaultdict(int)
    for adj in session.scalars(
        select(TimeAdjustment).where(
            TimeAdjustment.user_id == user_id,
            TimeAdjustment.status == AdjustmentStatus.approved,
            TimeAdjustment.work_date >= week_start,
            TimeAdjustment.work_date < week_start + dt.timedelta(days=7),
        )
    ):
        adjustments[adj.project_id] += adj.minutes * 60
    lines = []
    for project_id in sorted(set(per_project) | set(adjustments)):
        terms = rates.terms_for(
            session=session, project_id=project_id, default_margin_bp=default_margin_bp
        )
        base = int(per_project.get(project_id, 0.0))  # whole seconds, truncated once
        total = max(0, base + adjustments.get(project_id, 0))
        cap = terms.weekly_cap_minutes
        capped = min(total, cap * 60) if cap is not None else total
        lines.append(WeekLine(project_id, base, adjustments.get(project_id, 0), capped, cap))
    return lines


def approved_seconds_by_week(
    *, session: Session, user_ids: set[int], project_id: int, until: dt.date
) -> dict[int, list[tuple[dt.date, int]]]:
    """Approved (paid, after the cap) seconds per user and week on one project, oldest first.

    Only approved timesheets count, and only weeks over by ``until`` (their Sunday at the
    latest); a submitted, returned or reversed week counts nothing.
    """
    out: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    if not user_ids:
        return {}
    rows = session.execute(
        select(Timesheet.user_id, Timesheet.week_start, TimesheetLine.capped_seconds)
        .join(TimesheetLine, TimesheetLine.timesheet_id == Timesheet.id)
        .where(
            Timesheet.user_id.in_(sorted(user_ids)),
            Timesheet.status == TimesheetStatus.approved,
            Timesheet.week_start <= until - dt.timedelta(days=6),
            TimesheetLine.project_id == project_id,
        )
        .order_by(Timesheet.user_id, Timesheet.week_start)
    )
    for user_id, week_start, seconds in rows:
        out[user_id].append((week_start, seconds))
    return dict(out)


def led_projects(*, session: Session, actor: User) -> set[int]:
    """Return the ids of the projects the actor leads (a reviewer staffed as lead)."""
    if actor.role != Role.reviewer or not actor.is_active:
        return set()  # a lead whose role changed leads nothing, whatever the staffing says
    return set(
        session.scalars(
            select(Staffing.project_id).where(
                Staffing.user_id == actor.id, Staffing.role == StaffRole.lead, nda_cleared()
            )
        )
    )


def week_projects(*, session: Session, user_id: int, week_start: dt.date) -> set[int]:
    """Return the projects a user's week touches: heartbeats and requested or approved minutes."""
    since, until = _bounds(week_start)
    tracked = select(Heartbeat.project_id).where(
        Heartbeat.user_id == user_id, Heartbeat.at >= since, Heartbeat.at < until
    )
    adjusted = select(TimeAdjustment.project_id).where(
        TimeAdjustment.user_id == user_id,
        TimeAdjustment.status != AdjustmentStatus.rejected,
        TimeAdjustment.work_date >= week_start,
        TimeAdjustment.work_date < week_start + dt.timedelta(days=7),
    )
    return set(session.scalars(tracked.distinct())) | set(session.scalars(adjusted.distinct()))


def pending_adjustments(*, session: Session, sheet: Timesheet) -> list[TimeAdjustment]:
    """Return the week's adjustments still waiting for a decision."""
    return list(
        session.scalars(
            select(TimeAdjustment).where(
                TimeAdjustment.user_id == sheet.user_id,
                TimeAdjustment.status == AdjustmentStatus.requested,
                TimeAdjustment.work_date >= sheet.week_start,
                TimeAdjustment.work_date < sheet.week_start + dt.timedelta(days=7),
            )
        )
    )


def can_review(
    *, session: Session, actor: User, sheet: Timesheet, led: set[int] | None = None
) -> bool:
    """Operators review any timesheet; a lead one whose whole week is on projects they lead.

    "The week" is every project with a heartbeat or a requested or approved adjustment in it, so
    that even a stray heartbeat elsewhere sends the week to the operators.
    """
    if can_run_payroll(actor):
        return True
    if actor.id == sheet.user_id:
        return False
    if led is None:
        led = led_projects(session=session, actor=actor)
    if not led:
        return False
    touched = week_projects(session=session, user_id=sheet.user_id, week_start=sheet.week_start)
    return bool(touched) and touched <= led


def get_sheet_to_review(*, session: Session, actor: User, timesheet_id: int) -> Timesheet:
    """Return a timesheet the actor may see or review (its expert, operators, its lead)."""
    sheet = session.get(Timesheet, timesheet_id)
    if sheet is None or not (
        can_see_user_money(actor, sheet.user_id)
        or can_review(session=session, actor=actor, sheet=sheet)
    ):
        raise NotFound("Timesheet not found.")
    return sheet


def review_queue(*, session: Session, actor: User, limit: int = 100) -> list[Timesheet]:
    """Return the submitted timesheets the actor reviews, oldest week first."""
    query = (
        select(Timesheet)
        .where(Timesheet.status == TimesheetStatus.submitted)
        .order_by(Timesheet.week_start, Timesheet.id)
    )
    if can_run_payroll(actor):
        return list(session.scalars(query.limit(limit)))
    led = led_projects(session=session, actor=actor)
    if not led:
        return []
    # Candidates: people staffed on a led project, or who worked or asked for time on one (and
    # were unstaffed since). The full rule is checked per sheet; the weeks that go to the
    # operators instead are skipped, however many there are.
    staffed = select(Staffing.user_id).where(Staffing.project_id.in_(led), nda_cleared())
    worked = select(Heartbeat.user_id).where(Heartbeat.project_id.in_(led)).distinct()
    asked = select(TimeAdjustment.user_id).where(TimeAdjustment.project_id.in_(led)).distinct()
    query = query.where(
        Timesheet.user_id.in_(staffed.union(worked, asked)), Timesheet.user_id != actor.id
    )
    out: list[Timesheet] = []
    for sheet in session.scalars(query):
        if can_review(session=session, actor=actor, sheet=sheet, led=led):
            out.append(sheet)
            if len(out) == limit:
                break
    return out


@dataclass(frozen=True)
class ReviewItem:
    """A submitted week as its reviewer sees it: hours per project, adjustments still waiting."""

    sheet: Timesheet
    lines: list[WeekLine]
    waiting: int


def review_items(
    *,
    session: Session,
    actor: User,
    idle_cutoff: dt.timedelta,
    default_margin_bp: int,
    limit: int = 100,
) -> list[ReviewItem]:
    """The review queue with each week's hours (no pay) and its undecided adjustments."""
    return [
        ReviewItem(
            sheet,
            compute_week(
                session=session,
                user_id=sheet.user_id,
                week_start=sheet.week_start,
                idle_cutoff=idle_cutoff,
                default_margin_bp=default_margin_bp,
            ),
            len(pending_adjustments(session=session, sheet=sheet)),
        )
        for sheet in review_queue(session=session, actor=actor, limit=limit)
    ]


def can_decide_adjustment(actor: User, row: TimeAdjustment, led: set[int]) -> bool:
    """Operators decide any adjustment; a lead those on their projects, never their own."""
    return can_run_payroll(actor) or (row.user_id != actor.id and row.project_id in led)


def adjustments_to_decide(
    *, session: Session, actor: User, limit: int = 200
) -> list[TimeAdjustment]:
    """Return the requested adjustments the actor decides, oldest first."""
    query = (
        select(TimeAdjustment)
        .where(TimeAdjustment.status == AdjustmentStatus.requested)
        .order_by(TimeAdjustment.created_at, TimeAdjustment.id)
    )
    if not can_run_payroll(actor):
        led = led_projects(session=session, actor=actor)
        query = query.where(TimeAdjustment.project_id.in_(led), TimeAdjustment.user_id != actor.id)
    return list(session.scalars(query.limit(limit)))


def get_sheet(*, session: Session, actor: User, timesheet_id: int) -> Timesheet:
    """Return a timesheet the actor may see (their own, or any for operators)."""
    sheet = session.get(Timesheet, timesheet_id)
    if sheet is None or not can_see_user_money(actor, sheet.user_id):
        raise NotFound("Timesheet not found.")
    return sheet


def find_sheet(
    *, session: Session, user_id: int, week_start: dt.date, lock: bool = False
) -> Timesheet | None:
    """Return the user's timesheet for a week, if one was submitted (``lock``: FOR UPDATE)."""
    query = select(Timesheet).where(
        Timesheet.user_id == user_id, Timesheet.week_start == week_start
    )
    return session.scalar(query.with_for_update() if lock else query)


def lines_of(*, session: Session, timesheet_id: int) -> list[TimesheetLine]:
    """Return an approved timesheet's frozen lines."""
    return list(
        session.scalars(
            select(TimesheetLine)
            .where(TimesheetLine.timesheet_id == timesheet_id)
            .order_by(TimesheetLine.project_id)
        )
    )


def _emit(session: Session, actor: User, sheet: Timesheet, amount: int = 0) -> None:
    emit(
        events.TimesheetTransitioned(
            actor_user_id=actor.id,
            subject_type="timesheet",
            subject_id=str(sheet.id),
            week_start=sheet.week_start.isoformat(),
            to_status=sheet.status.value,
            amount_minor=amount,
        ),
        session=session,
    )


def submit(
    *, session: Session, actor: User, week_start: dt.date, today: dt.date | None = None
) -> Timesheet:
    """Submit the actor's week for approval (again after it was returned)."""
    if not earns(actor):
        raise PermissionDenied("Only experts and reviewers submit timesheets.")
    if week_start.weekday() != 0:
        raise ValidationFailed("A week starts on a Monday.")
    if week_start + dt.timedelta(days=7) > (today or utcnow().date()):
        # Time worked after an approval could never be paid: weeks are submitted once over.
        raise ValidationFailed(
            "A week is submitted once it is over (from the Monday after it); "
            "its time is still being tracked."
        )
    sheet = find_sheet(session=session, user_id=actor.id, week_start=week_start)
    if sheet is None:
        sheet = Timesheet(user_id=actor.id, week_start=week_start)
        session.add(sheet)
    elif sheet.status not in (TimesheetStatus.open, TimesheetStatus.returned):
        raise Conflict(f"This week's timesheet is already {sheet.status.value}.")
    sheet.status = TimesheetStatus.submitted
    sheet.submitted_at = utcnow()
    session.flush()
    _emit(session, actor, sheet)
    return sheet


def approve(
    *,
    session: Session,
    actor: User,
    sheet: Timesheet,
    idle_cutoff: dt.timedelta,
    default_margin_bp: int,
) -> Timesheet:
    """Freeze the week's lines at the rates in force and post them (one transaction)."""
    # Lock the row first: a concurrent adjustment decision for this week waits for the approval,
    # so the projects checked below are the ones priced.
    session.refresh(sheet, with_for_update=True)
    if not can_review(session=session, actor=actor, sheet=sheet):
        raise PermissionDenied("Only operators and the project's lead approve timesheets.")
    if sheet.status != TimesheetStatus.submitted:
        raise Conflict(f"Only a submitted timesheet is approved; this one is {sheet.status.value}.")
    waiting = pending_adjustments(session=session, sheet=sheet)
    if waiting:
        # Approving would freeze the week without them, and they could never be approved.
        raise Conflict(
            f"This week has {len(waiting)} requested adjustment(s) waiting for a decision; "
            "approve or reject them first."
        )
    week_end = sheet.week_start + dt.timedelta(days=6)
    lines = compute_week(
        session=session,
        user_id=sheet.user_id,
        week_start=sheet.week_start,
        idle_cutoff=idle_cutoff,
        default_margin_bp=default_margin_bp,
    )
    # Price every line before writing any: a missing rate must leave nothing behind.
    priced: list[tuple[WeekLine, Project, Rate]] = []
    for line in lines:
        project = session.get(Project, line.project_id)
        assert project is not None
        rate = rates.rate_for(
            session=session, user_id=sheet.user_id, project_id=project.id, on=sheet.week_start
        )
        if rate is None:
            if not can_run_payroll(actor):  # a lead sees hours, never the pay set-up
                raise ValidationFailed(
                    f"This expert's pay on {project.name} is not set up yet for the week of "
                    f"{sheet.week_start.isoformat()}; an operator must finish it first."
                )
            raise ValidationFailed(
                f"No hourly rate applies to this expert on {project.name} for the week of "
                f"{sheet.week_start.isoformat()}; set one first."
            )
        priced.append((line, project, rate))
    entries: list[ledger.Line] = []
    total = 0
    for line, project, rate in priced:
        terms = rates.terms_for(
            session=session, project_id=project.id, default_margin_bp=default_margin_bp
        )
        cost = money.time_pay(line.capped_seconds, rate.hourly_minor)
        fee = money.margin(cost, terms.margin_bp)
        hours = f"{line.capped_seconds / 3600:.2f} h"
        session.add(
            TimesheetLine(
                timesheet_id=sheet.id,
                project_id=project.id,
                tracked_seconds=line.tracked_seconds,
                adjustment_seconds=line.adjustment_seconds,
                capped_seconds=line.capped_seconds,
                rate_id=rate.id,
                currency=rate.currency,
                hourly_minor=rate.hourly_minor,
                amount_minor=cost,
                margin_minor=fee,
            )
        )
        week = sheet.week_start.isoformat()
        entries += postings.earning_lines(
            user_id=sheet.user_id,
            project=project,
            currency=rate.currency,
            cost_minor=cost,
            margin_minor=fee,
            expert_memo=(
                f"Time, week of {week}, {project.name}: {hours} at "
                f"{money.format_money(rate.hourly_minor, rate.currency)}/h"
            ),
            client_memo=f"Expert time, week of {week}: {hours}",
        )
        total += cost
    if entries and any(e.amount_minor for e in entries):
        txn = ledger.post(
            session=session,
            kind="time",
            description=f"Approved timesheet #{sheet.id}, week of {sheet.week_start.isoformat()}",
            effective_on=week_end,
            lines=entries,
            idempotency_key=f"timesheet:{sheet.id}:v{sheet.version}",
            created_by_id=actor.id,
        )
        sheet.transaction_id = txn.id
    sheet.status = TimesheetStatus.approved
    sheet.decided_by_id = actor.id
    sheet.decided_at = utcnow()
    session.flush()
    _emit(session, actor, sheet, total)
    return sheet


def return_sheet(*, session: Session, actor: User, sheet: Timesheet, comment: str) -> Timesheet:
    """Send a submitted timesheet back to the expert with a comment."""
    session.refresh(sheet, with_for_update=True)  # one decision at a time
    if not can_review(session=session, actor=actor, sheet=sheet):
        raise PermissionDenied("Only operators and the project's lead review timesheets.")
    if sheet.status != TimesheetStatus.submitted:
        raise Conflict(f"Only a submitted timesheet is returned; this one is {sheet.status.value}.")
    if not comment.strip():
        raise ValidationFailed("Say what to fix when returning a timesheet.")
    sheet.status = TimesheetStatus.returned
    sheet.comment = comment.strip()[:5000]
    sheet.decided_by_id = actor.id
    sheet.decided_at = utcnow()
    session.flush()
    _emit(session, actor, sheet)
    return sheet


def request_adjustment(
    *,
    session: Session,
    actor: User,
    project: Project,
    work_date: dt.date,
    minutes: int,
    reason: str,
) -> TimeAdjustment:
    """Ask for minutes to be added (or removed) on a day; counted once approved (an operator
    or the project's lead)."""
    if not earns(actor):
        raise PermissionDenied("Only experts and reviewers adjust their time.")
    if minutes == 0 or abs(minutes) > MAX_ADJUSTMENT_MINUTES:
        raise ValidationFailed("An adjustment is between 1 and 1,440 minutes, up or down.")
    if not reason.strip():
        raise ValidationFailed("Say why the time needs adjusting.")
    # Lock the week's sheet: an approval running at the same moment either sees this request
    # (and waits for its decision) or is committed first (and this request is refused).
    sheet = find_sheet(session=session, user_id=actor.id, week_start=week_of(work_date), lock=True)
    if sheet is not None and sheet.status == TimesheetStatus.approved:
        raise Conflict("That week is approved and frozen.")
    row = TimeAdjustment(
        user_id=actor.id,
        project_id=project.id,
        work_date=work_date,
        minutes=minutes,
        reason=reason.strip()[:2000],
    )
    session.add(row)
    session.flush()
    emit(
        events.AdjustmentRequested(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="time_adjustment",
            subject_id=str(row.id),
            minutes=minutes,
        ),
        session=session,
    )
    return row


def decide_adjustment(
    *, session: Session, actor: User, adjustment_id: int, approve: bool
) -> TimeAdjustment:
    """Approve or reject a requested adjustment (operators, or the project's lead)."""
    led = led_projects(session=session, actor=actor)
    row = session.get(TimeAdjustment, adjustment_id)
    if row is None or not (
        can_see_user_money(actor, row.user_id) or can_decide_adjustment(actor, row, led)
    ):
        raise NotFound("Adjustment not found.")
    if not can_decide_adjustment(actor, row, led):
        raise PermissionDenied("Only operators and the project's lead decide adjustments.")
    # Lock the row and read it again: of two decisions at the same moment, the second sees the
    # first and is refused instead of silently overwriting it.
    row = session.get(TimeAdjustment, adjustment_id, with_for_update=True, populate_existing=True)
    assert row is not None
    if row.status != AdjustmentStatus.requested:
        raise Conflict(f"This adjustment is already {row.status.value}.")
    # Lock the week's sheet: an approval running at the same moment waits, then sees this.
    sheet = find_sheet(
        session=session, user_id=row.user_id, week_start=week_of(row.work_date), lock=True
    )
    if approve and sheet is not None and sheet.status == TimesheetStatus.approved:
        raise Conflict("That week is approved and frozen.")
    row.status = AdjustmentStatus.approved if approve else AdjustmentStatus.rejected
    row.decided_by_id = actor.id
    row.decided_at = utcnow()
    session.flush()
    emit(
        events.AdjustmentDecided(
            actor_user_id=actor.id,
            subject_type="time_adjustment",
            subject_id=str(row.id),
            status=row.status.value,
        ),
        session=session,
    )
    return row


def list_sheets(
    *,
    session: Session,
    actor: User,
    user_id: int | None = None,
    status: TimesheetStatus | None = None,
    limit: int = 50,
) -> list[Timesheet]:
    """Return timesheets: an expert's own; operators any (optionally one user's)."""
    query = select(Timesheet).order_by(Timesheet.week_start.desc(), Timesheet.id.desc())
    if not can_run_payroll(actor):
        query = query.where(Timesheet.user_id == actor.id)
    elif user_id is not None:
        query = query.where(Timesheet.user_id == user_id)
    if status is not None:
        query = query.where(Timesheet.status == status)
    return list(session.scalars(query.limit(limit)))
