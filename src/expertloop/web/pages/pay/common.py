"""Helpers shared by the time and pay pages."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import NotFound, PermissionDenied, ValidationFailed
from expertloop.payments import money, timesheets
from expertloop.payments.models import Timesheet
from expertloop.payments.policies import (
    can_run_payroll,
    earns,
)
from expertloop.projects.models import Project
from expertloop.settings import Settings
from expertloop.types import utcnow
from expertloop.web.templating import render

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
    "referral": "Referral (referred expert reaches N approved hours)",
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


def approve_sheet(db: Session, settings: Settings, user: User, sheet: Timesheet) -> None:
    """Approve a week from a page (operators' payroll, a lead's team time)."""
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


def return_sheet(db: Session, user: User, sheet: Timesheet, comment: str) -> None:
    """Return a week to its expert from a page."""
    _attempt(
        db, lambda: timesheets.return_sheet(session=db, actor=user, sheet=sheet, comment=comment)
    )


def decide_adjustment(db: Session, user: User, adjustment_id: int, decision: str) -> None:
    """Approve or reject a requested adjustment from a page (any other decision: 404)."""
    if decision not in ("approve", "reject"):
        raise NotFound("Adjustment not found.")
    _attempt(
        db,
        lambda: timesheets.decide_adjustment(
            session=db, actor=user, adjustment_id=adjustment_id, approve=decision == "approve"
        ),
    )


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


def _sum_by_currency(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r["currency"]] += r[key]
    return dict(out)
