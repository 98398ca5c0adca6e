"""The operator's payroll: timesheets, adjustments, rates, payout runs, margins, outliers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role, User
from expertloop.errors import ExpertLoopError, NotFound
from expertloop.jobs.models import Job
from expertloop.jobs.queue import JobQueue
from expertloop.payments import ledger, money, payouts, rates, reports, timesheets
from expertloop.payments import tasks as payment_tasks
from expertloop.payments.models import (
    AdjustmentStatus,
    TimeAdjustment,
    Timesheet,
    TimesheetStatus,
)
from expertloop.payments.policies import (
    can_see_user_money,
)
from expertloop.projects import projects as projects_uc
from expertloop.settings import Settings
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, AppSettings, CurrentUser, Jobs
from expertloop.web.errors import status_for
from expertloop.web.pages.pay.common import (
    _attempt,
    _csv,
    _date,
    _idle,
    _main_currency,
    _opt_id,
    _page,
    _project_names,
    _require_payroll,
    _series,
    _sum_by_currency,
    _today,
    approve_sheet,
    decide_adjustment,
    major,
    return_sheet,
)

router = APIRouter()


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
                "waiting": len(timesheets.pending_adjustments(session=db, sheet=sheet)),
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
        approve_sheet(db, settings, user, sheet)
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
    comment: Annotated[str, Form()] = "",
) -> Response:
    """Send a submitted timesheet back to the expert with a comment."""
    sheet = timesheets.get_sheet(session=db, actor=user, timesheet_id=timesheet_id)
    _require_payroll(user)
    try:
        comment = clean_text(comment, field="Comment", max_length=5000)
        return_sheet(db, user, sheet, comment)
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
    if row is None or not can_see_user_money(user, row.user_id):
        raise NotFound("Adjustment not found.")
    _require_payroll(user)
    try:
        decide_adjustment(db, user, adjustment_id, decision)
    except NotFound:
        raise
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
    jobs: Jobs,
    period_start: Annotated[str, Form(max_length=20)] = "",
    period_end: Annotated[str, Form(max_length=20)] = "",
    idempotency_key: Annotated[str, Form(max_length=200)] = "",
    action: Annotated[str, Form(max_length=20)] = "preview",
) -> Response:
    """Preview (a dry run) or make a payout run in the background (its job's page follows it);
    the form's key makes a retry harmless."""
    _require_payroll(user)
    form = {
        "period_start": period_start,
        "period_end": period_end,
        "idempotency_key": idempotency_key,
    }
    try:
        start = _date(period_start, "period start")
        end = _date(period_end, "period end")
        if action == "run":
            try:
                job = _submit_run(db, settings, jobs, user, start, end, idempotency_key)
            except IntegrityError:
                db.rollback()  # a twin request with the same key won the race: its job
                job = _submit_run(db, settings, jobs, user, start, end, idempotency_key)
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
        result = _attempt(
            db,
            lambda: payouts.run(
                session=db,
                actor=user,
                period_start=start,
                period_end=end,
                idempotency_key=idempotency_key,
                default_margin_bp=settings.billing_margin_bp,
                dry_run=True,
            ),
        )
    except ExpertLoopError as exc:
        if "idempotency key was used" in exc.message:
            form["idempotency_key"] = uuid.uuid4().hex
            exc = type(exc)(
                "These dates differ from the run this form already made. Submit again to make a "
                "new run for them."
            )
        return _payroll_error(request, db, settings, user, "run", exc, run_form=form)
    assert isinstance(result, list)
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


def _submit_run(
    db: Session,
    settings: Settings,
    jobs: JobQueue,
    user: User,
    start: dt.date,
    end: dt.date,
    key: str,
) -> Job:
    # No savepoint (``_attempt``): the queue takes a savepoint's release for the commit that
    # hands it the job. A refusal comes before anything is written.
    return payment_tasks.submit_run(
        session=db,
        queue=jobs,
        actor=user,
        period_start=start,
        period_end=end,
        idempotency_key=key,
        default_margin_bp=settings.billing_margin_bp,
    )


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
