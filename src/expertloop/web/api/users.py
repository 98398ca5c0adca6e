"""Users: operators manage them; others see themselves (and clients their colleagues)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role
from expertloop.accounts.policies import can_manage_users
from expertloop.accounts.schemas import UserIn, UserOut, UserPatch
from expertloop.errors import PermissionDenied
from expertloop.web.api.common import ERRORS, PageOut
from expertloop.web.deps import DB, CurrentUser, Paging

router = APIRouter(prefix="/users", tags=["users"], responses=ERRORS)


@router.get("", response_model=PageOut[UserOut])
def list_users(
    user: CurrentUser, db: DB, page: Paging, role: Annotated[Role | None, Query()] = None
) -> PageOut[UserOut]:
    """List the users you may see."""
    rows, total = users_uc.list_users(
        session=db, actor=user, role=role, limit=page.limit, offset=page.offset
    )
    return PageOut[UserOut](
        items=[UserOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", response_model=UserOut, status_code=201)
def create_user(body: UserIn, user: CurrentUser, db: DB) -> UserOut:
    """Create a user (operators only)."""
    org = users_uc.get_organisation(session=db, organisation_id=body.organisation_id, actor=user)
    created = users_uc.create_user(
        session=db,
        organisation=org,
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        actor=user,
    )
    return UserOut.model_validate(created)


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: int, user: CurrentUser, db: DB) -> UserOut:
    """Return one user you may see."""
    return UserOut.model_validate(users_uc.get_user(session=db, user_id=user_id, actor=user))


@router.patch("/{user_id}", response_model=UserOut)
def update_user(user_id: int, body: UserPatch, user: CurrentUser, db: DB) -> UserOut:
    """Change a user's role or active state (operators only)."""
    target = users_uc.get_user(session=db, user_id=user_id, actor=user)
    if not can_manage_users(user):
        raise PermissionDenied("Only operators change users.")
    if body.role is not None:
        users_uc.change_role(session=db, user=target, role=body.role, actor=user)
    if body.is_active is not None:
        users_uc.set_active(session=db, user=target, active=body.is_active, actor=user)
    return UserOut.model_validate(target)
