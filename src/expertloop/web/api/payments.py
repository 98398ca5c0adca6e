"""Time and pay: rates, pay terms, bonuses, time, adjustments, timesheets, payouts, statements,
invoices, earnings and ledger reversals."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import User
from expertloop.errors import NotFound, PermissionDenied, ValidationFailed
from expertloop.jobs.schemas import JobOut
from expertloop.payments import bonuses, corrections, payouts, rates, reports, timesheets
from expertloop.payments import tasks as payment_tasks
from expertloop.payments.models import AdjustmentStatus, TimeAdjustment, TimesheetStatus
from expertloop.payments.policies import can_run_payroll, can_see_org_invoices, can_see_user_money
from expertloop.payments.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    BonusOut,
    BonusRuleIn,
    BonusRuleOut,
    CommentIn,
    EarningsOut,
    EvaluateIn,
    InvoiceLineOut,
    InvoiceOut,
    ManualBonusIn,
    PayoutOut,
    PayoutRunIn,
    PayoutRunJobIn,
    PayoutRunOut,
    PayTermsIO,
    RateIn,
    RateOut,
    ReverseIn,
    StatementLineOut,
    StatementOut,
    TimesheetIn,
    TimesheetLineOut,
    TimesheetOut,
    TimesheetReviewOut,
    TransactionOut,
    WeekLineOut,
    WeekOut,
)
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project
from expertloop.types import utcnow
from expertloop.web.api.common import ERRORS, ErrorOut
from expertloop.web.deps import DB, AppSettings, CurrentUser, Jobs

router = APIRouter(tags=["payments"], responses=ERRORS)

CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


def _cutoff(settings: AppSettings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.activity_idle_cutoff_seconds)


def _require_payroll(user: User) -> None:
    if not can_run_payroll(user):
        raise PermissionDenied("Only operators do this.")


def _project(db: DB, user: User, project_id: int) -> Project:
    return projects_uc.get_project(session=db, project_id=project_id, actor=user)


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- Rates, terms, bonus rules (operators) -----------------------------------------------------


@router.get("/rates", response_model=list[RateOut])
def list_rates(
    user: CurrentUser, db: DB, user_id: Annotated[int | None, Query()] = None
) -> list[RateOut]:
    """List rates: operators all (or one user's); experts their own base and override rates."""
    if not can_run_payroll(user):
        user_id = user.id
    return [RateOut.model_validate(r) for r in rates.list_rates(session=db, user_id=user_id)]


@router.post("/rates", response_model=RateOut, status_code=201)
def add_rate(body: RateIn, user: CurrentUser, db: DB) -> RateOut:
    """Add an effective-dated hourly rate (operators)."""
    return RateOut.model_validate(rates.set_rate(session=db, actor=user, **body.model_dump()))


@router.get("/projects/{project_id}/pay-terms", response_model=PayTermsIO)
def get_terms(project_id: int, user: CurrentUser, db: DB, settings: AppSettings) -> PayTermsIO:
    """Return the project's weekly cap and client margin (operators)."""
    project = _project(db, user, project_id)
    _require_payroll(user)
    terms = rates.terms_for(
        session=db, project_id=project.id, default_margin_bp=settings.billing_margin_bp
    )
    return PayTermsIO(weekly_cap_minutes=terms.weekly_cap_minutes, margin_bp=terms.margin_bp)


@router.put("/projects/{project_id}/pay-terms", response_model=PayTermsIO)
def set_terms(project_id: int, body: PayTermsIO, user: CurrentUser, db: DB) -> PayTermsIO:
    """Set the project's weekly cap and client margin (operators)."""
    project = _project(db, user, project_id)
    row = rates.set_terms(
        session=db,
        actor=user,
        project=project,
        weekly_cap_minutes=body.weekly_cap_minutes,
        margin_bp=body.margin_bp,
    )
    return PayTermsIO(weekly_cap_minutes=row.weekly_cap_minutes, margin_bp=row.margin_bp)


@router.get("/projects/{project_id}/bonus-rules", response_model=list[BonusRuleOut])
def list_bonus_rules(project_id: int, user: CurrentUser, db: DB) -> list[BonusRuleOut]:
    """List the project's bonus rules (operators)."""
    project = _project(db, user, project_id)
    _require_payroll(user)
    return [
        BonusRuleOut.model_validate(r) for r in bonuses.rules_of(session=db, project_id=project.id)
    ]


@router.post("/projects/{project_id}/bonus-rules", response_model=BonusRuleOut, status_code=201)
def add_bonus_rule(project_id: int, body: BonusRuleIn, user: CurrentUser, db: DB) -> BonusRuleOut:
    """Add a bonus rule to the project (operators)."""
    project = _project(db, user, project_id)
    rule = bonuses.add_rule(session=db, actor=user, project=project, **body.model_dump())
    return BonusRuleOut.model_validate(rule)


@router.post("/bonuses", response_model=BonusOut, status_code=201)
def award_bonus(
    body: ManualBonusIn,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> BonusOut:
    """Give a one-off bonus with a reason (operators); a repeated Idempotency-Key: the first."""
    project = _project(db, user, body.project_id)
    bonus = bonuses.award_manual(
        session=db,
        actor=user,
        project=project,
        user_id=body.user_id,
        currency=body.currency,
        amount_minor=body.amount_minor,
        reason=body.reason,
        earned_on=body.earned_on or utcnow().date(),
        default_margin_bp=settings.billing_margin_bp,
        idempotency_key=idempotency_key,
    )
    return BonusOut.model_validate(bonus)


@router.post("/bonuses/evaluate", response_model=list[BonusOut])
def evaluate_bonuses(
    body: EvaluateIn, user: CurrentUser, db: DB, settings: AppSettings
) -> list[BonusOut]:
    """Award what the bonus rules have earned up to a date (idempotent; operators)."""
    project = _project(db, user, body.project_id) if body.project_id is not None else None
    _require_payroll(user)
    if body.completed:
        if project is None:
            raise ValidationFailed("Say which project completed (project_id).")
        done = bonuses.complete_project(
            session=db,
            actor=user,
            project=project,
            until=body.until,
            default_margin_bp=settings.billing_margin_bp,
        )
        return [BonusOut.model_validate(b) for b in done]
    awarded = bonuses.evaluate(
        session=db,
        actor=user,
        until=body.until,
        default_margin_bp=settings.billing_margin_bp,
        project_id=body.project_id,
        completed=body.completed,
    )
    return [BonusOut.model_validate(b) for b in awarded]


# --- Time, adjustments, timesheets ---------------------------------------------------------------


@router.get("/me/time", response_model=WeekOut)
def my_week(
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    week: Annotated[dt.date | None, Query(description="Any day of the week")] = None,
) -> WeekOut:
    """Your tracked time per project for a week (live until the week is approved)."""
    start = timesheets.week_of(week or utcnow().date())
    sheet = timesheets.find_sheet(session=db, user_id=user.id, week_start=start)
    lines = timesheets.compute_week(
        session=db,
        user_id=user.id,
        week_start=start,
        idle_cutoff=_cutoff(settings),
        default_margin_bp=settings.billing_margin_bp,
    )
    return WeekOut(
        week_start=start,
        lines=[WeekLineOut(**line.__dict__) for line in lines],
        timesheet_id=sheet.id if sheet else None,
        status=sheet.status if sheet else TimesheetStatus.open,
    )


@router.post("/time-adjustments", response_model=AdjustmentOut, status_code=201)
def request_adjustment(body: AdjustmentIn, user: CurrentUser, db: DB) -> AdjustmentOut:
    """Ask for minutes to be added or removed on a day of a project you work on."""
    project = _project(db, user, body.project_id)
    row = timesheets.request_adjustment(
        session=db,
        actor=user,
        project=project,
        work_date=body.work_date,
        minutes=body.minutes,
        reason=body.reason,
    )
    return AdjustmentOut.model_validate(row)


@router.get("/time-adjustments", response_model=list[AdjustmentOut])
def list_adjustments(
    user: CurrentUser,
    db: DB,
    status: Annotated[AdjustmentStatus | None, Query()] = None,
) -> list[AdjustmentOut]:
    """List adjustments: your own and, for a lead, those on their projects; everyone's for
    operators."""
    query = select(TimeAdjustment).order_by(TimeAdjustment.id.desc()).limit(200)
    if not can_run_payroll(user):
        led = timesheets.led_projects(session=db, actor=user)
        query = query.where(
            (TimeAdjustment.user_id == user.id) | TimeAdjustment.project_id.in_(led)
        )
    if status is not None:
        query = query.where(TimeAdjustment.status == status)
    return [AdjustmentOut.model_validate(a) for a in db.scalars(query)]


@router.post("/time-adjustments/{adjustment_id}/{decision}", response_model=AdjustmentOut)
def decide_adjustment(
    adjustment_id: int,
    decision: timesheets.Decision,
    user: CurrentUser,
    db: DB,
) -> AdjustmentOut:
    """Approve or reject a requested adjustment (operators, or the project's lead)."""
    decided = timesheets.decide_adjustment(
        session=db,
        actor=user,
        adjustment_id=adjustment_id,
        approve=decision == timesheets.Decision.approve,
    )
    return AdjustmentOut.model_validate(decided)


def _sheet_out(db: DB, sheet_id: int, user: User) -> TimesheetOut:
    sheet = timesheets.get_sheet_to_review(session=db, actor=user, timesheet_id=sheet_id)
    out = TimesheetOut.model_validate(sheet)
    if can_see_user_money(user, sheet.user_id):
        out.lines = [
            TimesheetLineOut.model_validate(line)
            for line in timesheets.lines_of(session=db, timesheet_id=sheet.id)
        ]
    else:  # a lead sees the week's status, never its pay or its ledger posting
        out.transaction_id = None
    return out


@router.post("/timesheets", response_model=TimesheetOut, status_code=201)
def submit_timesheet(body: TimesheetIn, user: CurrentUser, db: DB) -> TimesheetOut:
    """Submit your week (Monday) for approval, or resubmit a returned one."""
    sheet = timesheets.submit(session=db, actor=user, week_start=body.week_start)
    return _sheet_out(db, sheet.id, user)


@router.get("/timesheets", response_model=list[TimesheetOut])
def list_timesheets(
    user: CurrentUser,
    db: DB,
    status: Annotated[TimesheetStatus | None, Query()] = None,
    user_id: Annotated[int | None, Query(description="Operators: one expert's")] = None,
) -> list[TimesheetOut]:
    """List timesheets: your own, or everyone's for operators; newest week first."""
    rows = timesheets.list_sheets(session=db, actor=user, user_id=user_id, status=status)
    return [TimesheetOut.model_validate(s) for s in rows]


@router.get("/timesheets/review", response_model=list[TimesheetReviewOut])
def timesheets_to_review(
    user: CurrentUser, db: DB, settings: AppSettings
) -> list[TimesheetReviewOut]:
    """Submitted weeks you review (operators: all; a lead: their projects'), with hours."""
    items = timesheets.review_items(
        session=db,
        actor=user,
        idle_cutoff=_cutoff(settings),
        default_margin_bp=settings.billing_margin_bp,
    )
    names = users_uc.names_by_id(session=db, user_ids={i.sheet.user_id for i in items})
    return [
        TimesheetReviewOut(
            id=i.sheet.id,
            user_id=i.sheet.user_id,
            user_name=names.get(i.sheet.user_id, ""),
            week_start=i.sheet.week_start,
            status=i.sheet.status,
            submitted_at=i.sheet.submitted_at,
            lines=[WeekLineOut(**line.__dict__) for line in i.lines],
            waiting_adjustments=i.waiting,
        )
        for i in items
    ]


@router.get("/timesheets/{timesheet_id}", response_model=TimesheetOut)
def get_timesheet(timesheet_id: int, user: CurrentUser, db: DB) -> TimesheetOut:
    """Return a timesheet with its frozen lines (after approval)."""
    return _sheet_out(db, timesheet_id, user)


@router.post("/timesheets/{timesheet_id}/approve", response_model=TimesheetOut)
def approve_timesheet(
    timesheet_id: int, user: CurrentUser, db: DB, settings: AppSettings
) -> TimesheetOut:
    """Approve: freeze the lines at the rates in force and post them to the ledger (operators,
    or the lead of every project in the week)."""
    sheet = timesheets.get_sheet_to_review(session=db, actor=user, timesheet_id=timesheet_id)
    timesheets.approve(
        session=db,
        actor=user,
        sheet=sheet,
        idle_cutoff=_cutoff(settings),
        default_margin_bp=settings.billing_margin_bp,
    )
    return _sheet_out(db, timesheet_id, user)


@router.post("/timesheets/{timesheet_id}/return", response_model=TimesheetOut)
def return_timesheet(timesheet_id: int, body: CommentIn, user: CurrentUser, db: DB) -> TimesheetOut:
    """Send a submitted timesheet back with a comment (operators, or the week's lead)."""
    sheet = timesheets.get_sheet_to_review(session=db, actor=user, timesheet_id=timesheet_id)
    timesheets.return_sheet(session=db, actor=user, sheet=sheet, comment=body.comment)
    return _sheet_out(db, timesheet_id, user)


# --- Payouts -----------------------------------------------------------------------------------


def _run_out(result: payouts.RunResult) -> PayoutRunOut:
    totals: dict[str, int] = {}
    for p in result.payouts:
        totals[p.currency] = totals.get(p.currency, 0) + p.amount_minor
    return PayoutRunOut(
        id=result.run.id,
        period_start=result.run.period_start,
        period_end=result.run.period_end,
        created=result.created,
        dry_run=False,
        payouts=[PayoutOut.model_validate(p) for p in result.payouts],
        totals=totals,
    )


@router.post("/payout-runs", response_model=PayoutRunOut)
def create_payout_run(
    body: PayoutRunIn,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    response: Response,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
) -> PayoutRunOut:
    """Pay everything owed up to ``period_end`` (operators). Requires an Idempotency-Key header:
    a retry with the same key gets the same run (200, created false); the same key with another
    period gets 409. 201 when a run was created; ``dry_run`` says who would get what."""
    try:
        result = payouts.run(
            session=db,
            actor=user,
            period_start=body.period_start,
            period_end=body.period_end,
            idempotency_key=idempotency_key,
            default_margin_bp=settings.billing_margin_bp,
            dry_run=body.dry_run,
        )
    except IntegrityError:
        # A twin request with the same key won a race the lock did not cover: answer with it.
        db.rollback()
        result = payouts.run(
            session=db,
            actor=user,
            period_start=body.period_start,
            period_end=body.period_end,
            idempotency_key=idempotency_key,
            default_margin_bp=settings.billing_margin_bp,
        )
    if isinstance(result, list):
        totals: dict[str, int] = {}
        for item in result:
            totals[item.currency] = totals.get(item.currency, 0) + item.amount_minor
        return PayoutRunOut(
            id=None,
            period_start=body.period_start,
            period_end=body.period_end,
            created=False,
            dry_run=True,
            payouts=[PayoutOut(**item.__dict__) for item in result],
            totals=totals,
        )
    response.status_code = 201 if result.created else 200
    return _run_out(result)


@router.post(
    "/payout-runs/jobs",
    response_model=JobOut,
    status_code=202,
    responses={409: {"model": ErrorOut, "description": "The key was used for another period"}},
)
def submit_payout_run_job(
    body: PayoutRunJobIn,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    jobs: Jobs,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
) -> JobOut:
    """Make a payout run in the background (operators); follow it at ``/api/v1/jobs/{id}``.

    Requires an Idempotency-Key header: the same key gives the same job and the same run (the
    job's result names it: ``run_id``, totals, ``run_url``); with another period, 409.
    """

    def submit() -> JobOut:
        job = payment_tasks.submit_run(
            session=db,
            queue=jobs,
            actor=user,
            period_start=body.period_start,
            period_end=body.period_end,
            idempotency_key=idempotency_key,
            default_margin_bp=settings.billing_margin_bp,
        )
        return JobOut.model_validate(job)

    try:
        return submit()
    except IntegrityError:
        db.rollback()  # a twin request with the same key got there first: answer with its job
        return submit()


@router.get("/payout-runs", response_model=list[PayoutRunOut])
def list_payout_runs(user: CurrentUser, db: DB) -> list[PayoutRunOut]:
    """List payout runs, newest first (operators)."""
    _require_payroll(user)
    return [
        _run_out(payouts.RunResult(r, payouts.payouts_of(session=db, run_id=r.id), False))
        for r in payouts.list_runs(session=db)
    ]


@router.get("/payout-runs/{run_id}", response_model=PayoutRunOut)
def get_payout_run(run_id: int, user: CurrentUser, db: DB) -> PayoutRunOut:
    """Return one payout run (operators)."""
    run = payouts.get_run(session=db, actor=user, run_id=run_id)
    return _run_out(payouts.RunResult(run, payouts.payouts_of(session=db, run_id=run.id), False))


@router.get("/payout-runs/{run_id}/file", responses=CSV)
def payout_file(run_id: int, user: CurrentUser, db: DB) -> Response:
    """The run's payout file (CSV) for the bank or payment provider (operators)."""
    run = payouts.get_run(session=db, actor=user, run_id=run_id)
    return _csv(reports.payout_file(session=db, run_id=run.id), f"payout-run-{run.id}.csv")


# --- Statements, invoices, earnings --------------------------------------------------------------


def _period(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    today = utcnow().date()
    end = end or today
    start = start or end.replace(day=1)
    if end < start:
        raise ValidationFailed("The period ends before it starts.")
    return start, end


@router.get("/users/{user_id}/statement", response_model=StatementOut, responses=CSV)
def statement(
    user_id: int,
    user: CurrentUser,
    db: DB,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(json|csv)$")] = "json",
) -> StatementOut | Response:
    """An expert's statement for a period, every line explained (yourself, or operators)."""
    subject = db.get(User, user_id)
    if subject is None or not can_see_user_money(user, user_id):
        raise NotFound("User not found.")
    period_start, period_end = _period(start, end)
    st = reports.statement(
        session=db, user=subject, period_start=period_start, period_end=period_end
    )
    if fmt == "csv":
        return _csv(
            reports.statement_csv(st), f"statement-{user_id}-{period_start}-{period_end}.csv"
        )
    return StatementOut(
        user_id=user_id,
        period_start=period_start,
        period_end=period_end,
        opening=st.opening,
        lines=[StatementLineOut(**line.__dict__) for line in st.lines],
        closing=st.closing,
        earned=st.earned,
        paid=st.paid,
    )


@router.get("/projects/{project_id}/invoice", response_model=InvoiceOut, responses=CSV)
def invoice(
    project_id: int,
    user: CurrentUser,
    db: DB,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
    fmt: Annotated[str, Query(alias="format", pattern="^(json|csv)$")] = "json",
) -> InvoiceOut | Response:
    """The project's invoice for a period, margin included (its client, and operators)."""
    project = _project(db, user, project_id)
    if not can_see_org_invoices(user, project.organisation_id):
        raise NotFound("Project not found.")
    period_start, period_end = _period(start, end)
    inv = reports.invoice(
        session=db, project=project, period_start=period_start, period_end=period_end
    )
    if fmt == "csv":
        return _csv(
            reports.invoice_csv(inv), f"invoice-{project_id}-{period_start}-{period_end}.csv"
        )
    return InvoiceOut(
        project_id=project.id,
        period_start=period_start,
        period_end=period_end,
        lines=[
            InvoiceLineOut(
                on=li.on,
                description=li.description,
                currency=li.currency,
                amount_minor=li.amount_minor,
            )
            for li in inv.lines
        ],
        totals=inv.totals,
    )


@router.get("/me/earnings", response_model=EarningsOut)
def my_earnings(user: CurrentUser, db: DB) -> EarningsOut:
    """Your lifetime, paid and pending earnings, bonuses, and earnings per week and project."""
    e = reports.earnings(session=db, user=user)
    return EarningsOut(**e.__dict__)


@router.post(
    "/ledger/transactions/{transaction_id}/reverse", response_model=TransactionOut, status_code=201
)
def reverse_transaction(
    transaction_id: int, body: ReverseIn, user: CurrentUser, db: DB
) -> TransactionOut:
    """Correct a transaction by posting its exact reversal (operators)."""
    txn = corrections.reverse(
        session=db, actor=user, transaction_id=transaction_id, reason=body.reason
    )
    return TransactionOut.model_validate(txn)
