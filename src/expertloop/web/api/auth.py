"""Login, logout, who am I, password change."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from expertloop.accounts import login as login_uc
from expertloop.accounts import sessions
from expertloop.accounts import tokens as tokens_uc
from expertloop.accounts.schemas import LoginIn, PasswordChangeIn, SessionOut, UserOut
from expertloop.errors import InvalidCredentials
from expertloop.web.api.common import ERRORS, ErrorOut
from expertloop.web.deps import DB, IP, AppSettings, CurrentAuth, CurrentUser, Throttle
from expertloop.web.session_cookie import clear_session_cookie, set_session_cookie

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERRORS)


@router.post(
    "/login",
    response_model=SessionOut,
    responses={429: {"model": ErrorOut, "description": "Too many attempts"}},
)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    db: DB,
    ip: IP,
    settings: AppSettings,
    throttle: Throttle,
) -> SessionOut:
    """Log in with email and password; sets the session cookie and returns the CSRF token.

    The body must be JSON: browsers cannot send JSON across sites without CORS, which this
    API does not grant, so the login itself cannot be forged from another site.
    """
    try:
        user = login_uc.authenticate(
            session=db, throttle=throttle, email=body.email, password=body.password, ip=ip
        )
    except InvalidCredentials:
        db.commit()  # keep the audit record of the failure
        raise
    token, row = sessions.start_session(
        session=db,
        user=user,
        max_age_seconds=settings.session_max_age_seconds,
        ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    set_session_cookie(response, settings, token)
    return SessionOut(
        user=UserOut.model_validate(user), csrf_token=row.csrf_token, expires_at=row.expires_at
    )


@router.post("/logout", status_code=204)
def logout(auth: CurrentAuth, response: Response, db: DB, ip: IP, settings: AppSettings) -> None:
    """End this login session (or, with a bearer token, revoke that token)."""
    if auth.web_session is not None:
        sessions.end_session(session=db, row=auth.web_session, user=auth.user, ip=ip)
    elif auth.token is not None:
        tokens_uc.revoke_token(session=db, user=auth.user, token_id=auth.token.id, ip=ip)
    clear_session_cookie(response, settings)


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """Return the logged-in user."""
    return UserOut.model_validate(user)


@router.post("/password", status_code=204)
def change_password(body: PasswordChangeIn, auth: CurrentAuth, db: DB, ip: IP) -> None:
    """Change your password; your other sessions end."""
    login_uc.change_password(
        session=db,
        user=auth.user,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=auth.web_session,
        ip=ip,
    )
