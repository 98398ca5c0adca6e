"""A project lead's team time: the submitted weeks and requested adjustments they review.

A lead sees hours per project, never rates or pay: the pay is between the expert and the
platform. Operators review everything on Payroll, so this page sends them there.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role, User
from expertloop.errors import ExpertLoopError, NotFound
from expertloop.payments import timesheets
from expertloop.payments.policies import can_run_payroll
from expertloop.settings import Settings
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, AppSettings, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.pages.pay.common import (
    _idle,
    _page,
    _project_names,
    approve_sheet,
    decide_adjustment,
    return_sheet,
)

router = APIRouter()


def _require_reviewer(user: User) -> None:
    if user.role != Role.reviewer:
        raise NotFound("Page not found.")


def _context(db: Session, settings: Settings, user: User) -> dict[str, Any]:
    led = timesheets.led_projects(session=db, actor=user)
    sheets = timesheets.review_items(
        session=db,
        actor=user,
        idle_cutoff=_idle(settings),
        default_margin_bp=settings.billing_margin_bp,
    )
    requested = timesheets.adjustments_to_decide(session=db, actor=user)
    user_ids = {s.sheet.user_id for s in sheets} | {a.user_id for a in requested}
    project_ids = set(led) | {a.project_id for a in requested}
    project_ids |= {x.project_id for s in sheets for x in s.lines}
    return {
        "led": sorted(_project_names(db, led).values(), key=str.lower),
        "sheets": sheets,
        "requested": requested,
        "user_names": users_uc.names_by_id(session=db, user_ids=user_ids),
        "project_names": _project_names(db, project_ids),
        "errors": {},
        "return_comment": {},
    }


def _error(
    request: Request,
    db: Session,
    settings: Settings,
    user: User,
    where: str,
    exc: ExpertLoopError,
    **extra: Any,
) -> Response:
    ctx = _context(db, settings, user)
    ctx["errors"] = {where: exc.message}
    ctx.update(extra)
    return _page(request, "team_time.html", ctx, status_for(exc))


@router.get("/team-time")
def team_time(request: Request, user: CurrentUser, db: DB, settings: AppSettings) -> Response:
    """A lead's queue: the weeks and adjustments of the projects they lead."""
    if can_run_payroll(user):
        return RedirectResponse("/payroll#timesheets", status_code=303)
    _require_reviewer(user)
    return _page(request, "team_time.html", _context(db, settings, user))


@router.post("/team-time/timesheets/{timesheet_id}/approve")
def team_approve(
    request: Request, timesheet_id: int, user: CurrentUser, db: DB, settings: AppSettings
) -> Response:
    """Approve a week whose whole time is on projects the lead leads (posts it at its rates)."""
    _require_reviewer(user)
    sheet = timesheets.get_sheet_to_review(session=db, actor=user, timesheet_id=timesheet_id)
    try:
        approve_sheet(db, settings, user, sheet)
    except ExpertLoopError as exc:
        return _error(request, db, settings, user, "timesheets", exc)
    return RedirectResponse(f"/team-time?approved={timesheet_id}", status_code=303)


@router.post("/team-time/timesheets/{timesheet_id}/return")
def team_return(
    request: Request,
    timesheet_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    comment: Annotated[str, Form()] = "",
) -> Response:
    """Send a week back to its expert with a comment."""
    _require_reviewer(user)
    sheet = timesheets.get_sheet_to_review(session=db, actor=user, timesheet_id=timesheet_id)
    try:
        comment = clean_text(comment, field="Comment", max_length=5000)
        return_sheet(db, user, sheet, comment)
    except ExpertLoopError as exc:
        return _error(
            request,
            db,
            settings,
            user,
            "timesheets",
            exc,
            return_comment={timesheet_id: comment},
        )
    return RedirectResponse(f"/team-time?returned={timesheet_id}", status_code=303)


@router.post("/team-time/adjustments/{adjustment_id}/{decision}")
def team_adjustment(
    request: Request,
    adjustment_id: int,
    decision: str,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
) -> Response:
    """Approve or reject a requested adjustment on a project the lead leads."""
    _require_reviewer(user)
    try:
        decide_adjustment(db, user, adjustment_id, decision)
    except NotFound:
        raise
    except ExpertLoopError as exc:
        return _error(request, db, settings, user, "adjustments", exc)
    return RedirectResponse(f"/team-time?decided={adjustment_id}", status_code=303)
