"""A project's pay (operators): weekly cap, margin, bonus rules and one-off bonuses."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role, User
from expertloop.errors import ExpertLoopError, ValidationFailed
from expertloop.payments import bonuses, money, rates
from expertloop.payments.models import (
    Bonus,
)
from expertloop.projects import projects as projects_uc
from expertloop.projects.models import Project
from expertloop.settings import Settings
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, AppSettings, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.pages.pay.common import (
    BONUS_KINDS,
    _attempt,
    _date,
    _int,
    _opt_id,
    _page,
    _require_payroll,
    _today,
)

router = APIRouter()


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
    min_hours: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Add a bonus rule to the project."""
    project = _pay_project(db, user, project_id)
    try:
        code = money.currency(currency)
        value = money.parse_money(amount, code)
        minimum = _int(min_accepted, "minimum") if min_accepted.strip() else None
        hours = _int(min_hours, "hours") if min_hours.strip() else None
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
                min_hours=hours,
            ),
        )
    except ExpertLoopError as exc:
        form = {
            "kind": kind,
            "currency": currency,
            "amount": amount,
            "min_accepted": min_accepted,
            "min_hours": min_hours,
        }
        return _pay_error(request, db, settings, user, project, "rule", exc, form)
    return RedirectResponse(f"/projects/{project_id}/pay?saved=rule#rules", status_code=303)


@router.post("/projects/{project_id}/pay/complete")
def pay_complete(
    request: Request, project_id: int, user: CurrentUser, db: DB, settings: AppSettings
) -> Response:
    """The project is complete: award its completion bonuses."""
    project = _pay_project(db, user, project_id)
    try:
        awarded = _attempt(
            db,
            lambda: bonuses.complete_project(
                session=db,
                actor=user,
                project=project,
                until=_today(),
                default_margin_bp=settings.billing_margin_bp,
            ),
        )
    except ExpertLoopError as exc:
        return _pay_error(request, db, settings, user, project, "rule", exc, {})
    return RedirectResponse(
        f"/projects/{project_id}/pay?completed={len(awarded)}#rules", status_code=303
    )


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
    reason: Annotated[str, Form()] = "",
    earned_on: Annotated[str, Form(max_length=20)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Award a one-off bonus with a reason; the form's key makes a double submit harmless."""
    project = _pay_project(db, user, project_id)
    try:
        reason = clean_text(reason, field="Reason", max_length=2000)
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
