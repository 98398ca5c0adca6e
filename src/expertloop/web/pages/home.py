"""The role-aware home page, the operator's activity feed, and the health check."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import can_read_audit_log
from expertloop.errors import PermissionDenied
from expertloop.experts import vetting
from expertloop.payments.week_time import week_time
from expertloop.projects import ndas
from expertloop.projects import projects as projects_uc
from expertloop.review import comments as review_comments
from expertloop.settings import Settings
from expertloop.types import utcnow
from expertloop.web.deps import DB, AppSettings, CurrentUser, MaybeAuth
from expertloop.web.templating import render
from expertloop.workbench import feed as feed_uc
from expertloop.workbench import home as home_uc
from expertloop.workbench import problem_sets
from expertloop.workbench import team as team_uc

router = APIRouter()

HOME_FEED = 10
# Where each kind of feed object has its page (``FeedItem.link`` is (kind, id)).
FEED_LINKS = {
    "problem_set": "/problem-sets/{}",
    "step": "/steps/{}",
    "project": "/projects/{}",
    "job": "/jobs/{}",
    "payout_run": "/payroll/payout-runs/{}",
    "webhook": "/webhooks/{}",
    "user": "/users",
}


def feed_href(link: tuple[str, int] | None) -> str | None:
    """Return the page of a feed item's object, if it has one."""
    if link is None or link[0] not in FEED_LINKS:
        return None
    return FEED_LINKS[link[0]].format(link[1])


def ago(at: dt.datetime, now: dt.datetime | None = None) -> str:
    """Say how long ago ``at`` was, in the words a feed uses ("5 min ago")."""
    seconds = int(((now or utcnow()) - at).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86_400:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    days = seconds // 86_400
    if days < 30:
        return f"{days} day{'s' if days != 1 else ''} ago"
    return at.strftime("%Y-%m-%d")


def _idle(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.activity_idle_cutoff_seconds)


def home_data(db: DB, settings: Settings, user: User) -> dict[str, Any]:
    """Gather what the caller's home shows (the page's context and the JSON's fields)."""
    data: dict[str, Any] = {}
    if user.role in (Role.expert, Role.reviewer):
        data["expert"] = home_uc.expert_home(session=db, actor=user)
        data["week"] = week_time(
            session=db,
            user_id=user.id,
            today=utcnow().date(),
            idle_cutoff=_idle(settings),
            default_margin_bp=settings.billing_margin_bp,
        )
    if user.role == Role.reviewer:
        data["team"] = team_uc.team_work(session=db, actor=user)
    if user.role in (Role.reviewer, Role.operator):
        data["review_queue"] = problem_sets.review_queue(session=db, actor=user, limit=20)
    if user.role == Role.operator:
        data["role_counts"] = users_uc.role_counts(session=db)
        if can_read_audit_log(user):
            data["feed"] = feed_uc.activity_feed(session=db, actor=user, limit=HOME_FEED)
    return data


@router.get("/healthz")
def healthz() -> Response:
    """Answer load balancers: the process is up."""
    return JSONResponse({"status": "ok"})


@router.get("/")
def home(request: Request, auth: MaybeAuth, db: DB, settings: AppSettings) -> Response:
    """Show what matters to the caller's role."""
    if auth is None:
        return RedirectResponse("/login", status_code=303)
    user = auth.user
    projects, project_total = projects_uc.list_projects(session=db, actor=user, limit=10)
    context: dict[str, object] = {"projects": projects, "project_total": project_total}
    context.update(home_data(db, settings, user))
    context["review_comments"] = review_comments.for_author(session=db, actor=user, limit=10)
    if user.role == Role.expert:
        context["vetting"] = vetting.my_status(db, user)
    if user.role in (Role.expert, Role.reviewer):
        context["project_invitations"] = ndas.pending_invitations(session=db, actor=user)
    context.update({"feed_href": feed_href, "ago": ago, "now": utcnow()})
    return render(request, f"home/{user.role.value}.html", context)


@router.get("/activity")
def activity_page(
    request: Request,
    user: CurrentUser,
    db: DB,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The activity feed, a page at a time; htmx asks for just the next items."""
    if not can_read_audit_log(user):
        raise PermissionDenied("Only operators read the activity feed.")
    page = feed_uc.activity_feed(session=db, actor=user, before_id=before)
    context = {"feed": page, "feed_href": feed_href, "ago": ago, "now": utcnow()}
    if request.headers.get("HX-Request"):
        return render(request, "home/_feed_items.html", context)
    return render(request, "home/activity.html", context)
