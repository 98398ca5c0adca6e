"""Operator pages: users and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role
from expertloop.accounts.policies import can_manage_users, can_read_audit_log
from expertloop.errors import PermissionDenied
from expertloop.events import recent
from expertloop.web.deps import DB, CurrentUser
from expertloop.web.templating import render

router = APIRouter()
PAGE_SIZE = 50


@router.get("/users")
def user_list(
    request: Request,
    user: CurrentUser,
    db: DB,
    page: Annotated[int, Query(ge=1)] = 1,
    role: Annotated[Role | None, Query()] = None,
) -> Response:
    """List users (operators)."""
    if not can_manage_users(user):
        raise PermissionDenied("Only operators see this page.")
    rows, total = users_uc.list_users(
        session=db, actor=user, role=role, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    orgs = {o.id: o for o in users_uc.list_organisations(session=db, actor=user)}
    return render(
        request,
        "users.html",
        {
            "users": rows,
            "total": total,
            "page": page,
            "orgs": orgs,
            "role": role,
            "roles": list(Role),
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


@router.get("/audit")
def audit_log(
    request: Request,
    user: CurrentUser,
    db: DB,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """Show the audit log, newest first (operators)."""
    if not can_read_audit_log(user):
        raise PermissionDenied("Only operators see this page.")
    rows = recent(session=db, limit=PAGE_SIZE, before_id=before_id)
    names = users_uc.names_by_id(
        session=db, user_ids={e.actor_user_id for e in rows if e.actor_user_id}
    )
    return render(
        request, "audit.html", {"events": rows, "page_size": PAGE_SIZE, "actor_names": names}
    )
