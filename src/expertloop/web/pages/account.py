"""The account page: password change and API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.accounts import login as login_uc
from expertloop.accounts import tokens as tokens_uc
from expertloop.errors import ValidationFailed
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, IP, CurrentAuth, CurrentUser
from expertloop.web.templating import render

router = APIRouter(prefix="/account")


def _page(
    request: Request, db: DB, auth_user: CurrentUser, status: int = 200, **extra: object
) -> Response:
    tokens = tokens_uc.list_tokens(session=db, user=auth_user)
    return render(request, "account.html", {"tokens": tokens, **extra}, status)


@router.get("")
def account(request: Request, user: CurrentUser, db: DB) -> Response:
    """Show the account page."""
    return _page(request, db, user, changed=request.query_params.get("changed") == "1")


@router.post("/password")
def password_change(
    request: Request,
    auth: CurrentAuth,
    db: DB,
    ip: IP,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    confirm_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Change the password; other sessions end."""
    try:
        if new_password != confirm_password:
            raise ValidationFailed("The new passwords do not match.")
        login_uc.change_password(
            session=db,
            user=auth.user,
            current_password=current_password,
            new_password=new_password,
            keep_session=auth.web_session,
            ip=ip,
        )
    except ValidationFailed as exc:
        return _page(request, db, auth.user, 422, password_error=exc.message)
    return RedirectResponse("/account?changed=1", status_code=303)


@router.post("/tokens")
def token_create(
    request: Request,
    user: CurrentUser,
    db: DB,
    ip: IP,
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Create a token and show its secret once."""
    try:
        name = clean_text(name, field="Name", max_length=100, one_line=True)
        secret, row = tokens_uc.create_token(session=db, user=user, name=name, ip=ip)
    except ValidationFailed as exc:
        return _page(request, db, user, 422, token_error=exc.message)
    return _page(request, db, user, 201, new_token=secret, new_token_name=row.name)


@router.post("/tokens/{token_id}/revoke")
def token_revoke(token_id: int, user: CurrentUser, db: DB, ip: IP) -> Response:
    """Revoke one of the caller's tokens."""
    tokens_uc.revoke_token(session=db, user=user, token_id=token_id, ip=ip)
    return RedirectResponse("/account", status_code=303)
