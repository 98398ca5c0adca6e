"""The role-aware home page and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role
from expertloop.accounts.policies import can_read_audit_log
from expertloop.events import recent
from expertloop.projects import projects as projects_uc
from expertloop.web.deps import DB, MaybeAuth
from expertloop.web.templating import render
from expertloop.workbench import problem_sets

router = APIRouter()


@router.get("/healthz")
def healthz() -> Response:
    """Answer load balancers: the process is up."""
    return JSONResponse({"status": "ok"})


@router.get("/")
def home(request: Request, auth: MaybeAuth, db: DB) -> Response:
    """Show what matters to the caller's role."""
    if auth is None:
        return RedirectResponse("/login", status_code=303)
    user = auth.user
    projects, project_total = projects_uc.list_projects(session=db, actor=user, limit=10)
    context: dict[str, object] = {"projects": projects, "project_total": project_total}
    if user.role in (Role.expert, Role.reviewer):
        context["my_problem_sets"] = problem_sets.authored_by(session=db, actor=user, limit=10)
    if user.role in (Role.reviewer, Role.operator):
        context["review_queue"] = problem_sets.review_queue(session=db, actor=user, limit=20)
    if user.role == Role.operator:
        context["role_counts"] = users_uc.role_counts(session=db)
        if can_read_audit_log(user):
            events = recent(session=db, limit=8)
            context["events"] = events
            context["actor_names"] = users_uc.names_by_id(
                session=db, user_ids={e.actor_user_id for e in events if e.actor_user_id}
            )
    return render(request, f"home/{user.role.value}.html", context)
