"""Effective-dated hourly rates and each project's pay terms (weekly cap, client margin)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.payments import events, money
from expertloop.payments.models import PayTerms, Rate
from expertloop.payments.policies import can_run_payroll
from expertloop.projects.models import Project

MAX_HOURLY_MAJOR = 100_000  # 100,000 an hour in any currency: anything above is a typo


def set_rate(
    *,
    session: Session,
    actor: User,
    currency: str,
    hourly_minor: int,
    effective_from: dt.date,
    user_id: int | None = None,
    project_id: int | None = None,
) -> Rate:
    """Add a rate from ``effective_from`` on (base, project-wide or expert-on-project)."""
    if not can_run_payroll(actor):
        raise PermissionDenied("Only operators set rates.")
    if user_id is None and project_id is None:
        raise ValidationFailed("A rate is for an expert, a project, or an expert on a project.")
    if user_id is not None and session.get(User, user_id) is None:
        raise NotFound("User not found.")
    if project_id is not None and session.get(Project, project_id) is None:
        raise NotFound("Project not found.")
    code = money.currency(currency)
    if not 0 < hourly_minor <= MAX_HOURLY_MAJOR * 10 ** money.minor_digits(code):
        raise ValidationFailed("The hourly rate must be positive (and at most 100,000 an hour).")
    rate = Rate(
        user_id=user_id,
        project_id=project_id,
        currency=code,
        hourly_minor=hourly_minor,
        effective_from=effective_from,
        created_by_id=actor.id,
    )
    session.add(rate)
    session.flush()
    emit(
        events.RateSet(
            actor_user_id=actor.id,
            subject_type="rate",
            subject_id=str(rate.id),
            user_id=user_id,
            project_id=project_id,
            currency=rate.currency,
            hourly_minor=hourly_minor,
            effective_from=effective_from.isoformat(),
        ),
        session=session,
    )
    return rate


def rate_for(*, session: Session, user_id: int, project_id: int, on: dt.date) -> Rate | None:
    """Return the rate in force on ``on``: expert-on-project, else project, else expert base."""
    for uid, pid in ((user_id, project_id), (None, project_id), (user_id, None)):
        query = (
            select(Rate)
            .where(
                Rate.user_id.is_(None) if uid is None else Rate.user_id == uid,
                Rate.project_id.is_(None) if pid is None else Rate.project_id == pid,
                Rate.effective_from <= on,
            )
            .order_by(Rate.effective_from.desc(), Rate.id.desc())
            .limit(1)
        )
        found = session.scalar(query)
        if found is not None:
            return found
    return None


def list_rates(*, session: Session, user_id: int | None = None) -> list[Rate]:
    """Return rates (one expert's, or all), newest first."""
    query = select(Rate).order_by(Rate.effective_from.desc(), Rate.id.desc())
    if user_id is not None:
        query = query.where(Rate.user_id == user_id)
    return list(session.scalars(query))


def terms_for(*, session: Session, project_id: int, default_margin_bp: int) -> PayTerms:
    """Return the project's pay terms (an unsaved default row when none were set)."""
    row = session.get(PayTerms, project_id)
    if row is None:
        return PayTerms(project_id=project_id, weekly_cap_minutes=None, margin_bp=default_margin_bp)
    return row


def set_terms(
    *,
    session: Session,
    actor: User,
    project: Project,
    weekly_cap_minutes: int | None,
    margin_bp: int,
) -> PayTerms:
    """Set a project's weekly cap (None: no cap) and client margin in basis points."""
    if not can_run_payroll(actor):
        raise PermissionDenied("Only operators set pay terms.")
    if weekly_cap_minutes is not None and not 0 < weekly_cap_minutes <= 7 * 24 * 60:
        raise ValidationFailed("A weekly cap is between 1 minute and 168 hours.")
    if not 0 <= margin_bp <= 50_000:
        raise ValidationFailed("The margin is between 0 and 500 %.")
    row = session.get(PayTerms, project.id)
    if row is None:
        row = PayTerms(project_id=project.id, margin_bp=margin_bp)
        session.add(row)
    row.weekly_cap_minutes = weekly_cap_minutes
    row.margin_bp = margin_bp
    row.updated_by_id = actor.id
    session.flush()
    emit(
        events.PayTermsSet(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            weekly_cap_minutes=weekly_cap_minutes,
            margin_bp=margin_bp,
        ),
        session=session,
    )
    return row
