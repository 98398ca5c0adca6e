"""Expert pages of time and pay: this week's time, adjustments, earnings, statements."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import ExpertLoopError, NotFound, ValidationFailed
from expertloop.payments import money, rates, reports, timesheets
from expertloop.payments.models import (
    TimeAdjustment,
    TimesheetStatus,
)
from expertloop.payments.policies import (
    can_see_user_money,
)
from expertloop.projects import projects as projects_uc
from expertloop.settings import Settings
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, AppSettings, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.pages.pay.common import (
    HISTORY_WEEKS,
    _attempt,
    _csv,
    _date,
    _idle,
    _int,
    _main_currency,
    _opt_id,
    _page,
    _project_names,
    _require_earner,
    _series,
    _today,
    major,
)

router = APIRouter()


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
                # A week is submitted once it is over (time after approval could not count).
                "can_submit": status in ("open", "returned") and back > 0,
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
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Ask for minutes to be added to (or removed from) a day's tracked time."""
    _require_earner(user)
    try:
        reason = clean_text(reason, field="Reason", max_length=2000)
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
