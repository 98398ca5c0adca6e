"""Payments pages: time and earnings (experts), payroll (operators), spend and invoices (clients).

Every page calls the payments domain directly. Forms post here with the CSRF field and redirect
(303) after a change; a refused change renders the page again with the message and the typed
input (422, or the domain's status). Each change runs in a savepoint, so a refusal halfway leaves
nothing behind.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.errors import ExpertLoopError, NotFound, PermissionDenied, ValidationFailed
from expertloop.payments import bonuses, ledger, money, payouts, rates, reports, timesheets
from expertloop.payments.models import (
    AdjustmentStatus,
    Bonus,
    PayoutRun,
    TimeAdjustment,
    Timesheet,
    TimesheetStatus,
)
from expertloop.payments.policies import (
    can_run_payroll,
    can_see_org_invoices,
    can_see_user_money,
    earns,
)
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project
from expertloop.settings import Settings
from expertloop.types import utcnow
from expertloop.web.deps import DB, AppSettings, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.templating import render

router = APIRouter()
T = TypeVar("T")

HISTORY_WEEKS = 8
STATUS_LABELS = {
    "open": "Open",
    "submitted": "Submitted",
    "approved": "Approved",
    "returned": "Returned",
    "requested": "Requested",
    "rejected": "Rejected",
}
BONUS_KINDS = {
    "per_accepted_item": "Per accepted problem set",
    "completion": "Project completion (at least N accepted)",
}


# --- Small helpers ---------------------------------------------------------------------------


def hms(seconds: float | int) -> str:
    """Seconds as ``H:MM:SS`` (signed)."""
    sign = "-" if seconds < 0 else ""
    s = abs(int(seconds))
    return f"{sign}{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def fmt_totals(totals: dict[str, int]) -> str:
    """Amounts in several currencies on one line; ``0.00`` when there are none."""
    if not totals:
        return "0.00"
    return " · ".join(money.format_money(v, c) for c, v in sorted(totals.items()))


def major(amount_minor: int, currency: str) -> float:
    """An amount in major units, for charts only (tables show the exact figures)."""
    scale: int = 10 ** money.minor_digits(currency)
    return amount_minor / scale


HELPERS: dict[str, Any] = {
    "hms": hms,
    "fmt": money.format_money,
    "fmt_totals": fmt_totals,
    "labels": STATUS_LABELS,
}


def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return render(request, f"payments/{template}", {**HELPERS, **context}, status_code)


def _today() -> dt.date:
    return utcnow().date()


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"The {what} must be a date such as 2026-01-31.") from None


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationFailed(f"The {what} must be a whole number.") from None


def _opt_id(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _attempt(db: Session, change: Callable[[], T]) -> T:
    """Run a change in a savepoint: a refusal rolls back whatever it wrote."""
    with db.begin_nested():
        return change()


def _main_currency(currencies: Iterable[str]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for c in currencies:
        counts[c] += 1
    return max(sorted(counts), key=lambda c: counts[c]) if counts else "USD"


def _series(
    rows: list[tuple[str, str, float]], *, unit: str, currency: str = "", stacked: bool = True
) -> dict[str, Any]:
    """Chart data from (label, series, value) rows: {labels, datasets[{label, data}]}."""
    labels = sorted({r[0] for r in rows})
    names = sorted({r[1] for r in rows})
    values: dict[tuple[str, str], float] = defaultdict(float)
    for label, name, value in rows:
        values[(label, name)] += value
    return {
        "unit": unit,
        "currency": currency,
        "stacked": stacked,
        "labels": labels,
        "datasets": [
            {"label": n, "data": [round(values[(lab, n)], 2) for lab in labels]} for n in names
        ],
    }


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _idle(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.activity_idle_cutoff_seconds)


def _project_names(db: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {p.id: p.name for p in db.scalars(select(Project).where(Project.id.in_(wanted)))}


def _require_earner(user: User) -> None:
    if not earns(user):
        raise PermissionDenied(
            "Only experts and reviewers are paid for their time; operators open an expert's "
            "statement from Payroll."
        )


def _require_payroll(user: User) -> None:
    if not can_run_payroll(user):
        raise PermissionDenied("Only operators see this page.")


# --- Expert: time ----------------------------------------------------------------------------


def _week_rows(db: Session, settings: Settings, user: User) -> list[dict[str, Any]]:
    """This week and the previous ones: lines, status, and pay (frozen, or estimated)."""
    this_week = timesheets.week_of(_today())
    rows = []
    for back in range(HISTORY_WEEKS + 1):
        week = this_week - dt.timedelta(weeks=back)
        sheet = timesheets.find_sheet(session=db, user_id=user.id, week_start=week)
        lines: list[dict[str, Any]] = []
        totals: dict[str, int] = defaultdict(int)
        if sheet is not None and sheet.status == TimesheetStatus.approved:
            for fl in timesheets.lines_of(session=db, timesheet_id=sheet.id):
                lines.append(
                    {
                        "project_id": fl.project_id,
                        "tracked": fl.tracked_seconds,
                        "adjustment": fl.adjustment_seconds,
                        "paid": fl.capped_seconds,
                        "cap": None,
                        "hourly": money.format_money(fl.hourly_minor, fl.currency),
                        "amount": fl.amount_minor,
                        "currency": fl.currency,
                    }
                )
                totals[fl.currency] += fl.amount_minor
            estimate = False
        else:
            for wl in timesheets.compute_week(
                session=db,
                user_id=user.id,
                week_start=week,
                idle_cutoff=_idle(settings),
                default_margin_bp=settings.billing_margin_bp,
            ):
                rate = rates.rate_for(
                    session=db, user_id=user.id, project_id=wl.project_id, on=week
                )
                amount = money.time_pay(wl.capped_seconds, rate.hourly_minor) if rate else None
                if rate is not None and amount is not None:
                    totals[rate.currency] += amount
                lines.append(
                    {
                        "project_id": wl.project_id,
                        "tracked": wl.tracked_seconds,
                        "adjustment": wl.adjustment_seconds,
                        "paid": wl.capped_seconds,
                        "cap": wl.cap_minutes,
                        "hourly": money.format_money(rate.hourly_minor, rate.currency)
                        if rate
                        else "",
                        "amount": amount,
                        "currency": rate.currency if rate else "",
                    }
                )
            estimate = True
        status = sheet.status.value if sheet is not None else "open"
        rows.append(
            {
                "week": week,
                "week_end": week + dt.timedelta(days=6),
                "current": back == 0,
                "sheet": sheet,
                "status": status,
                "lines": lines,
                "seconds": sum(line["paid"] for line in lines),
                "totals": dict(totals),
                "estimate": estimate,
                "can_submit": status in ("open", "returned"),
            }
        )
    return rows


def _time_context(db: Session, settings: Settings, user: User) -> dict[str, Any]:
    weeks = _week_rows(db, settings, user)
    projects, _ = projects_uc.list_projects(session=db, actor=user, limit=200)
    adjustments = list(
        db.scalars(
            select(TimeAdjustment)
            .where(TimeAdjustment.user_id == user.id)
            .order_by(TimeAdjustment.created_at.desc(), TimeAdjustment.id.desc())
            .limit(30)
        )
    )
    ids = {line["project_id"] for w in weeks for line in w["lines"]}
    ids |= {a.project_id for a in adjustments} | {p.id for p in projects}
    return {
        "this_week": weeks[0],
        "weeks": weeks,
        "projects": projects,
        "project_names": _project_names(db, ids),
        "adjustments": adjustments,
        "today": _today(),
        "form": {},
        "error": "",
        "error_at": "",
    }


@router.get("/time")
def time_page(request: Request, user: CurrentUser, db: DB, settings: AppSettings) -> Response:
    """The expert's tracked time: this week live, recent weeks, adjustments."""
    _require_earner(user)
    return _page(request, "time.html", _time_context(db, settings, user))


@router.post("/time/submit")
def time_submit(
    request: Request,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    week_start: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Submit one week's timesheet for approval."""
    _require_earner(user)
    try:
        week = _date(week_start, "week")
        _attempt(db, lambda: timesheets.submit(session=db, actor=user, week_start=week))
    except ExpertLoopError as exc:
        ctx = _time_context(db, settings, user)
        ctx.update(error=exc.message, error_at="weeks")
        return _page(request, "time.html", ctx, status_for(exc))
    return RedirectResponse(f"/time?submitted={week.isoformat()}#weeks", status_code=303)


@router.post("/time/adjustments")
def time_adjustment(
    request: Request,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    project_id: Annotated[str, Form(max_length=20)] = "",
    work_date: Annotated[str, Form(max_length=20)] = "",
    minutes: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Ask for minutes to be added to (or removed from) a day's tracked time."""
    _require_earner(user)
    try:
        pid = _opt_id(project_id)
        if pid is None:
            raise ValidationFailed("Choose the project the time was spent on.")
        project = projects_uc.get_project(session=db, project_id=pid, actor=user)
        day = _date(work_date, "date")
        mins = _int(minutes, "number of minutes")
        _attempt(
            db,
            lambda: timesheets.request_adjustment(
                session=db,
                actor=user,
                project=project,
                work_date=day,
                minutes=mins,
                reason=reason,
            ),
        )
    except ExpertLoopError as exc:
        ctx = _time_context(db, settings, user)
        ctx.update(
            error=exc.message,
            error_at="adjustment",
            form={
                "project_id": project_id,
                "work_date": work_date,
                "minutes": minutes,
                "reason": reason,
            },
        )
        return _page(request, "time.html", ctx, status_for(exc))
    return RedirectResponse("/time?requested=1#adjustments", status_code=303)


# --- Expert: earnings and statements --------------------------------------------------------


@router.get("/earnings")
def earnings_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """The expert's dashboard: totals, earnings and hours by week, the weeks' table."""
    _require_earner(user)
    e = reports.earnings(session=db, user=user)
    currency = _main_currency(str(w["currency"]) for w in e.weeks)
    by_week = [
        (str(w["week"]), str(w["project"]), major(int(str(w["amount_minor"])), currency))
        for w in e.weeks
        if w["currency"] == currency
    ]
    hours = [(str(w["week"]), "Hours", float(str(w["hours"]))) for w in e.weeks]
    return _page(
        request,
        "earnings.html",
        {
            "e": e,
            "currency": currency,
            "other_currencies": sorted({str(w["currency"]) for w in e.weeks} - {currency}),
            "earnings_chart": _series(by_week, unit="money", currency=currency),
            "hours_chart": _series(hours, unit="hours", stacked=False),
            "statement_from": _default_from(),
            "statement_to": _default_to(),
        },
    )


def _default_to() -> dt.date:
    return timesheets.week_of(_today()) + dt.timedelta(days=6)


def _default_from() -> dt.date:
    return (_default_to() - dt.timedelta(days=92)).replace(day=1)


def _statement(
    request: Request,
    db: DB,
    viewer: User,
    subject: User,
    start: dt.date | None,
    end: dt.date | None,
    fmt: str,
) -> Response:
    start = start or _default_from()
    end = end or _default_to()
    if end < start:
        raise ValidationFailed("The period ends before it starts.")
    st = reports.statement(session=db, user=subject, period_start=start, period_end=end)
    if fmt == "csv":
        return _csv(reports.statement_csv(st), f"statement-{subject.id}-{start}-{end}.csv")
    base = request.url.path
    return _page(
        request,
        "statement.html",
        {
            "st": st,
            "subject": subject,
            "own": viewer.id == subject.id,
            "base": base,
            "csv_url": f"{base}?from={start}&to={end}&format=csv",
            "currencies": sorted(set(st.opening) | set(st.closing) | set(st.earned)),
        },
    )


@router.get("/statement")
def my_statement(
    request: Request,
    user: CurrentUser,
    db: DB,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(html|csv)$")] = "html",
) -> Response:
    """The caller's own statement (HTML, or CSV with ``format=csv``)."""
    _require_earner(user)
    return _statement(request, db, user, user, start, end, fmt)


@router.get("/users/{user_id}/statement")
def user_statement(
    request: Request,
    user_id: int,
    user: CurrentUser,
    db: DB,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(html|csv)$")] = "html",
) -> Response:
    """An expert's statement: operators see anyone's, experts only their own (else 404)."""
    subject = db.get(User, user_id)
    if subject is None or not can_see_user_money(user, user_id):
        raise NotFound("User not found.")
    return _statement(request, db, user, subject, start, end, fmt)


# --- Operator: payroll -----------------------------------------------------------------------


def _earners(db: Session, user: User) -> list[User]:
    people = []
    for role in (Role.expert, Role.reviewer):
        rows, _ = users_uc.list_users(session=db, actor=user, role=role, limit=1000)
        people += rows
    return sorted(people, key=lambda u: u.name.lower())


def _margins(db: Session) -> list[dict[str, Any]]:
    """Billed, expert cost and platform margin per project and currency, from the ledger."""
    billed: dict[tuple[int, str], int] = defaultdict(int)
    margin: dict[tuple[int, str], int] = defaultdict(int)
    for _txn, entry in ledger.statement_entries(session=db, account=ledger.CLIENT_RECEIVABLE):
        if entry.project_id is not None:
            billed[(entry.project_id, entry.currency)] += entry.amount_minor
    for _txn, entry in ledger.statement_entries(session=db, account=ledger.PLATFORM_REVENUE):
        if entry.project_id is not None:
            margin[(entry.project_id, entry.currency)] -= entry.amount_minor
    names = _project_names(db, {k[0] for k in billed} | {k[0] for k in margin})
    rows = []
    for key in sorted(set(billed) | set(margin), key=lambda k: (names.get(k[0], ""), k[1])):
        rows.append(
            {
                "project_id": key[0],
                "project": names.get(key[0], str(key[0])),
                "currency": key[1],
                "billed": billed[key],
                "margin": margin[key],
                "cost": billed[key] - margin[key],
            }
        )
    return rows


def _submitted(db: Session, settings: Settings, user: User) -> list[dict[str, Any]]:
    sheets = timesheets.list_sheets(
        session=db, actor=user, status=TimesheetStatus.submitted, limit=100
    )
    names = users_uc.names_by_id(session=db, user_ids={s.user_id for s in sheets})
    out = []
    for sheet in sheets:
        lines = []
        totals: dict[str, int] = defaultdict(int)
        for wl in timesheets.compute_week(
            session=db,
            user_id=sheet.user_id,
            week_start=sheet.week_start,
            idle_cutoff=_idle(settings),
            default_margin_bp=settings.billing_margin_bp,
        ):
            rate = rates.rate_for(
                session=db, user_id=sheet.user_id, project_id=wl.project_id, on=sheet.week_start
            )
            amount = money.time_pay(wl.capped_seconds, rate.hourly_minor) if rate else None
            if rate is not None and amount is not None:
                totals[rate.currency] += amount
            lines.append({"line": wl, "rate": rate, "amount": amount})
        out.append(
            {
                "sheet": sheet,
                "name": names.get(sheet.user_id, f"user {sheet.user_id}"),
                "lines": lines,
                "totals": dict(totals),
                "missing_rate": any(x["rate"] is None for x in lines),
            }
        )
    return out


def _run_form_defaults() -> dict[str, str]:
    end = timesheets.week_of(_today()) - dt.timedelta(days=1)
    return {
        "period_start": (end - dt.timedelta(days=27)).isoformat(),
        "period_end": end.isoformat(),
        "idempotency_key": uuid.uuid4().hex,
    }


def _payroll_context(db: Session, settings: Settings, user: User) -> dict[str, Any]:
    submitted = _submitted(db, settings, user)
    requested = list(
        db.scalars(
            select(TimeAdjustment)
            .where(TimeAdjustment.status == AdjustmentStatus.requested)
            .order_by(TimeAdjustment.created_at, TimeAdjustment.id)
            .limit(200)
        )
    )
    rate_rows = rates.list_rates(session=db)[:200]
    runs = payouts.list_runs(session=db, limit=10)
    run_rows = []
    for run in runs:
        paid = payouts.payouts_of(session=db, run_id=run.id)
        totals: dict[str, int] = defaultdict(int)
        for p in paid:
            totals[p.currency] += p.amount_minor
        run_rows.append({"run": run, "count": len(paid), "totals": dict(totals)})
    owed_now: dict[str, int] = defaultdict(int)
    for item in payouts.owed(session=db, until=dt.date.max):
        owed_now[item.currency] += item.amount_minor
    margins = _margins(db)
    currency = _main_currency(m["currency"] for m in margins)
    chart_rows = [
        (m["project"], series, major(m[key], currency))
        for m in margins
        if m["currency"] == currency
        for series, key in (("Expert cost", "cost"), ("Platform margin", "margin"))
    ]
    outliers = reports.outliers(session=db, idle_cutoff=_idle(settings))
    people = _earners(db, user)
    projects, _ = projects_uc.list_projects(session=db, actor=user, limit=500)
    user_ids = {a.user_id for a in requested} | {r.user_id for r in rate_rows if r.user_id}
    user_ids |= {int(str(o["author_id"])) for o in outliers}
    project_ids = {a.project_id for a in requested} | {p.id for p in projects}
    project_ids |= {r.project_id for r in rate_rows if r.project_id}
    project_ids |= {x["line"].project_id for s in submitted for x in s["lines"]}
    return {
        "submitted": submitted,
        "requested": requested,
        "rates": rate_rows,
        "runs": run_rows,
        "owed_now": dict(owed_now),
        "margins": margins,
        "margin_currency": currency,
        "margin_chart": {**_series(chart_rows, unit="money", currency=currency), "horizontal": 1},
        "billed_totals": _sum_by_currency(margins, "billed"),
        "margin_totals": _sum_by_currency(margins, "margin"),
        "outliers": outliers,
        "people": people,
        "projects": projects,
        "user_names": users_uc.names_by_id(session=db, user_ids=user_ids),
        "project_names": _project_names(db, project_ids),
        "this_monday": timesheets.week_of(_today()),
        "rate_form": {"currency": "USD", "effective_from": timesheets.week_of(_today())},
        "run_form": _run_form_defaults(),
        "preview": None,
        "errors": {},
    }


def _sum_by_currency(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r["currency"]] += r[key]
    return dict(out)


def _payroll_error(
    request: Request,
    db: Session,
    settings: Settings,
    user: User,
    where: str,
    exc: ExpertLoopError,
    **extra: Any,
) -> Response:
    ctx = _payroll_context(db, settings, user)
    ctx["errors"] = {where: exc.message}
    ctx.update(extra)
    return _page(request, "payroll.html", ctx, status_for(exc))


def _about(sheet: Timesheet, exc: ExpertLoopError) -> ExpertLoopError:
    """The error, saying which timesheet it is about."""
    return type(exc)(f"Timesheet #{sheet.id} (week of {sheet.week_start}): {exc.message}")


@router.get("/payroll")
def payroll_page(request: Request, user: CurrentUser, db: DB, settings: AppSettings) -> Response:
    """Operators: approve time, rates, payout runs, margins and outliers."""
    _require_payroll(user)
    return _page(request, "payroll.html", _payroll_context(db, settings, user))


@router.post("/payroll/timesheets/{timesheet_id}/approve")
def payroll_approve(
    request: Request, timesheet_id: int, user: CurrentUser, db: DB, settings: AppSettings
) -> Response:
    """Approve a submitted timesheet: freeze its lines and post them."""
    sheet = timesheets.get_sheet(session=db, actor=user, timesheet_id=timesheet_id)
    _require_payroll(user)
    try:
        _attempt(
            db,
            lambda: timesheets.approve(
                session=db,
                actor=user,
                sheet=sheet,
                idle_cutoff=_idle(settings),
                default_margin_bp=settings.billing_margin_bp,
            ),
        )
    except ExpertLoopError as exc:
        return _payroll_error(request, db, settings, user, "timesheets", _about(sheet, exc))
    return RedirectResponse(f"/payroll?approved={timesheet_id}#timesheets", status_code=303)


@router.post("/payroll/timesheets/{timesheet_id}/return")
def payroll_return(
    request: Request,
    timesheet_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Send a submitted timesheet back to the expert with a comment."""
    sheet = timesheets.get_sheet(session=db, actor=user, timesheet_id=timesheet_id)
    _require_payroll(user)
    try:
        _attempt(
            db,
            lambda: timesheets.return_sheet(session=db, actor=user, sheet=sheet, comment=comment),
        )
    except ExpertLoopError as exc:
        return _payroll_error(
            request,
            db,
            settings,
            user,
            "timesheets",
            _about(sheet, exc),
            return_comment={timesheet_id: comment},
        )
    return RedirectResponse(f"/payroll?returned={timesheet_id}#timesheets", status_code=303)


@router.post("/payroll/adjustments/{adjustment_id}/{decision}")
def payroll_adjustment(
    request: Request,
    adjustment_id: int,
    decision: str,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
) -> Response:
    """Approve or reject a requested time adjustment."""
    row = db.get(TimeAdjustment, adjustment_id)
    if (
        row is None
        or not can_see_user_money(user, row.user_id)
        or decision
        not in (
            "approve",
            "reject",
        )
    ):
        raise NotFound("Adjustment not found.")
    _require_payroll(user)
    try:
        _attempt(
            db,
            lambda: timesheets.decide_adjustment(
                session=db, actor=user, adjustment_id=adjustment_id, approve=decision == "approve"
            ),
        )
    except ExpertLoopError as exc:
        return _payroll_error(request, db, settings, user, "adjustments", exc)
    return RedirectResponse(f"/payroll?decided={adjustment_id}#adjustments", status_code=303)


@router.post("/payroll/rates")
def payroll_rate(
    request: Request,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    user_id: Annotated[str, Form(max_length=20)] = "",
    project_id: Annotated[str, Form(max_length=20)] = "",
    currency: Annotated[str, Form(max_length=10)] = "USD",
    hourly: Annotated[str, Form(max_length=40)] = "",
    effective_from: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Add an hourly rate (expert, project, or expert on project) from a date on."""
    _require_payroll(user)
    try:
        code = money.currency(currency)
        amount = money.parse_money(hourly, code)
        start = _date(effective_from, "start date")
        _attempt(
            db,
            lambda: rates.set_rate(
                session=db,
                actor=user,
                currency=code,
                hourly_minor=amount,
                effective_from=start,
                user_id=_opt_id(user_id),
                project_id=_opt_id(project_id),
            ),
        )
    except ExpertLoopError as exc:
        form = {
            "user_id": user_id,
            "project_id": project_id,
            "currency": currency,
            "hourly": hourly,
            "effective_from": effective_from,
        }
        return _payroll_error(request, db, settings, user, "rate", exc, rate_form=form)
    return RedirectResponse("/payroll?rate=1#rates", status_code=303)


@router.post("/payroll/payout-runs")
def payroll_run(
    request: Request,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    period_start: Annotated[str, Form(max_length=20)] = "",
    period_end: Annotated[str, Form(max_length=20)] = "",
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
    action: Annotated[str, Form(max_length=20)] = "preview",
) -> Response:
    """Preview (a dry run) or make a payout run; the form's key makes a retry harmless."""
    _require_payroll(user)
    form = {
        "period_start": period_start,
        "period_end": period_end,
        "idempotency_key": idempotency_key,
    }
    try:
        start = _date(period_start, "period start")
        end = _date(period_end, "period end")
        dry = action != "run"
        result = _attempt(
            db,
            lambda: payouts.run(
                session=db,
                actor=user,
                period_start=start,
                period_end=end,
                idempotency_key=idempotency_key,
                default_margin_bp=settings.billing_margin_bp,
                dry_run=dry,
            ),
        )
    except IntegrityError:
        # A twin request with the same key won the race: answer with its run.
        existing = db.scalar(
            select(PayoutRun).where(PayoutRun.idempotency_key == idempotency_key.strip())
        )
        if existing is None:
            raise
        return RedirectResponse(f"/payroll/payout-runs/{existing.id}", status_code=303)
    except ExpertLoopError as exc:
        if "idempotency key was used" in exc.message:
            form["idempotency_key"] = uuid.uuid4().hex
            exc = type(exc)(
                "These dates differ from the run this form already made. Submit again to make a "
                "new run for them."
            )
        return _payroll_error(request, db, settings, user, "run", exc, run_form=form)
    if isinstance(result, payouts.RunResult):
        return RedirectResponse(f"/payroll/payout-runs/{result.run.id}", status_code=303)
    names = users_uc.names_by_id(session=db, user_ids={o.user_id for o in result})
    totals: dict[str, int] = defaultdict(int)
    for o in result:
        totals[o.currency] += o.amount_minor
    ctx = _payroll_context(db, settings, user)
    ctx["run_form"] = form
    ctx["preview"] = {
        "rows": [(names.get(o.user_id, str(o.user_id)), o) for o in result],
        "totals": dict(totals),
    }
    return _page(request, "payroll.html", ctx)


@router.get("/payroll/payout-runs/{run_id}")
def payout_run_page(
    request: Request,
    run_id: int,
    user: CurrentUser,
    db: DB,
    fmt: Annotated[str, Query(alias="format", pattern="^(html|csv)$")] = "html",
) -> Response:
    """A payout run: who was paid what; ``format=csv`` is the payout file for the bank."""
    run = payouts.get_run(session=db, actor=user, run_id=run_id)
    if fmt == "csv":
        return _csv(reports.payout_file(session=db, run_id=run.id), f"payout-run-{run.id}.csv")
    paid = payouts.payouts_of(session=db, run_id=run.id)
    names = users_uc.names_by_id(session=db, user_ids={p.user_id for p in paid})
    totals: dict[str, int] = defaultdict(int)
    for p in paid:
        totals[p.currency] += p.amount_minor
    return _page(
        request,
        "payout_run.html",
        {"run": run, "payouts": paid, "names": names, "totals": dict(totals)},
    )


# --- Operator: a project's pay terms and bonuses --------------------------------------------


def _pay_project(db: Session, user: User, project_id: int) -> Project:
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    _require_payroll(user)
    return project


def _pay_context(db: Session, settings: Settings, user: User, project: Project) -> dict[str, Any]:
    terms = rates.terms_for(
        session=db, project_id=project.id, default_margin_bp=settings.billing_margin_bp
    )
    staffed = [
        u
        for _s, u in projects_uc.staff_people(session=db, actor=user, project=project)
        if u.role in (Role.expert, Role.reviewer)
    ]
    awarded = list(
        db.scalars(
            select(Bonus)
            .where(Bonus.project_id == project.id)
            .order_by(Bonus.earned_on.desc(), Bonus.id.desc())
            .limit(100)
        )
    )
    cap = terms.weekly_cap_minutes
    return {
        "project": project,
        "terms": terms,
        "terms_saved": db.get(type(terms), project.id) is not None,
        "rules": bonuses.rules_of(session=db, project_id=project.id),
        "kinds": BONUS_KINDS,
        "staffed": staffed,
        "awarded": awarded,
        "names": users_uc.names_by_id(session=db, user_ids={b.user_id for b in awarded}),
        "terms_form": {
            "cap_hours": "" if cap is None else _trim(Decimal(cap) / 60),
            "margin_percent": _trim(Decimal(terms.margin_bp) / 100),
        },
        "rule_form": {"kind": "per_accepted_item", "currency": "USD"},
        "bonus_form": {
            "currency": "USD",
            "earned_on": _today().isoformat(),
            "idempotency_key": uuid.uuid4().hex,
        },
        "errors": {},
        "default_margin": _trim(Decimal(settings.billing_margin_bp) / 100),
    }


def _trim(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValidationFailed(f"The {what} must be a number such as 37.5.") from None
    if not value.is_finite():
        raise ValidationFailed(f"The {what} must be a number such as 37.5.")
    return value


def _pay_error(
    request: Request,
    db: Session,
    settings: Settings,
    user: User,
    project: Project,
    where: str,
    exc: ExpertLoopError,
    form: dict[str, str],
) -> Response:
    ctx = _pay_context(db, settings, user, project)
    ctx["errors"] = {where: exc.message}
    ctx[f"{where}_form"] = form
    return _page(request, "pay.html", ctx, status_for(exc))


@router.get("/projects/{project_id}/pay")
def pay_page(
    request: Request, project_id: int, user: CurrentUser, db: DB, settings: AppSettings
) -> Response:
    """A project's pay terms (weekly cap, margin), bonus rules and bonuses (operators)."""
    project = _pay_project(db, user, project_id)
    return _page(request, "pay.html", _pay_context(db, settings, user, project))


@router.post("/projects/{project_id}/pay/terms")
def pay_terms(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    cap_hours: Annotated[str, Form(max_length=20)] = "",
    margin_percent: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Set the project's weekly cap (hours; blank for none) and client margin (percent)."""
    project = _pay_project(db, user, project_id)
    try:
        cap: int | None = None
        if cap_hours.strip():
            minutes = _decimal(cap_hours, "weekly cap") * 60
            if minutes != minutes.to_integral_value():
                raise ValidationFailed("Give the weekly cap to the minute, e.g. 37.5 hours.")
            cap = int(minutes)
        bp = _decimal(margin_percent, "margin") * 100
        if bp != bp.to_integral_value():
            raise ValidationFailed("The margin has at most two decimals, e.g. 12.5 %.")
        _attempt(
            db,
            lambda: rates.set_terms(
                session=db, actor=user, project=project, weekly_cap_minutes=cap, margin_bp=int(bp)
            ),
        )
    except ExpertLoopError as exc:
        form = {"cap_hours": cap_hours, "margin_percent": margin_percent}
        return _pay_error(request, db, settings, user, project, "terms", exc, form)
    return RedirectResponse(f"/projects/{project_id}/pay?saved=terms", status_code=303)


@router.post("/projects/{project_id}/pay/bonus-rules")
def pay_bonus_rule(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    kind: Annotated[str, Form(max_length=40)] = "",
    currency: Annotated[str, Form(max_length=10)] = "USD",
    amount: Annotated[str, Form(max_length=40)] = "",
    min_accepted: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Add a bonus rule to the project."""
    project = _pay_project(db, user, project_id)
    try:
        code = money.currency(currency)
        value = money.parse_money(amount, code)
        minimum = _int(min_accepted, "minimum") if min_accepted.strip() else None
        _attempt(
            db,
            lambda: bonuses.add_rule(
                session=db,
                actor=user,
                project=project,
                kind=kind,
                currency=code,
                amount_minor=value,
                min_accepted=minimum,
            ),
        )
    except ExpertLoopError as exc:
        form = {"kind": kind, "currency": currency, "amount": amount, "min_accepted": min_accepted}
        return _pay_error(request, db, settings, user, project, "rule", exc, form)
    return RedirectResponse(f"/projects/{project_id}/pay?saved=rule#rules", status_code=303)


@router.post("/projects/{project_id}/pay/bonuses")
def pay_bonus(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    user_id: Annotated[str, Form(max_length=20)] = "",
    currency: Annotated[str, Form(max_length=10)] = "USD",
    amount: Annotated[str, Form(max_length=40)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    earned_on: Annotated[str, Form(max_length=20)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Award a one-off bonus with a reason; the form's key makes a double submit harmless."""
    project = _pay_project(db, user, project_id)
    try:
        uid = _opt_id(user_id)
        staffed = {
            u.id for _s, u in projects_uc.staff_people(session=db, actor=user, project=project)
        }
        if uid is None or uid not in staffed:
            raise ValidationFailed("Choose an expert staffed on this project.")
        code = money.currency(currency)
        value = money.parse_money(amount, code)
        day = _date(earned_on, "date")
        _attempt(
            db,
            lambda: bonuses.award_manual(
                session=db,
                actor=user,
                project=project,
                user_id=uid,
                currency=code,
                amount_minor=value,
                reason=reason,
                earned_on=day,
                default_margin_bp=settings.billing_margin_bp,
                idempotency_key=idempotency_key.strip() or None,
            ),
        )
    except ExpertLoopError as exc:
        form = {
            "user_id": user_id,
            "currency": currency,
            "amount": amount,
            "reason": reason,
            "earned_on": earned_on,
            "idempotency_key": idempotency_key,
        }
        return _pay_error(request, db, settings, user, project, "bonus", exc, form)
    return RedirectResponse(f"/projects/{project_id}/pay?saved=bonus#bonuses", status_code=303)


# --- Client: spend and invoices --------------------------------------------------------------


def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    first = dt.date.fromisoformat(f"{month}-01")
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


@router.get("/spend")
def spend_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """A client's spend per project and month (operators: every client's)."""
    if not (is_operator(user) or user.role == Role.client):
        raise PermissionDenied("Only clients and operators see spend.")
    org = None if is_operator(user) else user.organisation_id
    rows = reports.spend_by_project(session=db, organisation_id=org)
    currency = _main_currency(str(r["currency"]) for r in rows)
    chart = _series(
        [
            (str(r["month"]), str(r["project"]), major(int(str(r["amount_minor"])), currency))
            for r in rows
            if r["currency"] == currency
        ],
        unit="money",
        currency=currency,
    )
    table = []
    per_project: dict[tuple[int, str, str], int] = defaultdict(int)
    first: dict[int, str] = {}
    last: dict[int, str] = {}
    for r in rows:
        pid, month, cur = int(str(r["project_id"])), str(r["month"]), str(r["currency"])
        start, end = _month_bounds(month)
        table.append({**r, "from": start, "to": end})
        per_project[(pid, str(r["project"]), cur)] += int(str(r["amount_minor"]))
        first[pid] = min(first.get(pid, month), month)
        last[pid] = max(last.get(pid, month), month)
    projects = [
        {
            "project_id": pid,
            "project": name,
            "currency": cur,
            "amount_minor": total,
            "from": _month_bounds(first[pid])[0],
            "to": _month_bounds(last[pid])[1],
        }
        for (pid, name, cur), total in sorted(per_project.items(), key=lambda kv: kv[0][1])
    ]
    return _page(
        request,
        "spend.html",
        {
            "rows": table,
            "projects": projects,
            "spend_chart": chart,
            "currency": currency,
            "totals": _sum_by_currency(
                [{"currency": p["currency"], "v": p["amount_minor"]} for p in projects], "v"
            ),
        },
    )


@router.get("/projects/{project_id}/invoice")
def invoice_page(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(html|csv)$")] = "html",
) -> Response:
    """A project's invoice for a period (HTML, or CSV): its client and operators only."""
    project = db.get(Project, project_id)
    if project is None or not can_see_org_invoices(user, project.organisation_id):
        raise NotFound("Project not found.")
    today = _today()
    start = start or today.replace(day=1)
    end = end or _month_bounds(today.strftime("%Y-%m"))[1]
    if end < start:
        raise ValidationFailed("The period ends before it starts.")
    inv = reports.invoice(session=db, project=project, period_start=start, period_end=end)
    if fmt == "csv":
        return _csv(reports.invoice_csv(inv), f"invoice-{project.id}-{start}-{end}.csv")
    return _page(
        request,
        "invoice.html",
        {
            "inv": inv,
            "project": project,
            "show_margin": is_operator(user),
            "csv_url": f"/projects/{project.id}/invoice?from={start}&to={end}&format=csv",
        },
    )
