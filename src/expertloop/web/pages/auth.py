"""Login and logout pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.accounts import login as login_uc
from expertloop.accounts import sessions
from expertloop.errors import InvalidCredentials, RateLimited
from expertloop.web.deps import DB, IP, AppSettings, CurrentAuth, MaybeAuth, Throttle
from expertloop.web.security import (
    ANON_CSRF_COOKIE,
    CsrfRejected,
    check_origin,
    new_anon_csrf_token,
    tokens_match,
)
from expertloop.web.session_cookie import clear_session_cookie, set_session_cookie
from expertloop.web.templating import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never "//evil.example" or "https://…".
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(
    request: Request,
    settings_secure: bool,
    *,
    next_url: str,
    email: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    token = request.cookies.get(ANON_CSRF_COOKIE) or new_anon_csrf_token()
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": next_url, "email": email, "error": error},
        status,
    )
    response.set_cookie(
        ANON_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings_secure,
        path="/login",
    )
    return response


@router.get("/login")
def login_form(
    request: Request, auth: MaybeAuth, settings: AppSettings, next: str | None = None
) -> Response:
    """Show the login form (or go home when already logged in)."""
    if auth is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, bool(settings.cookie_secure), next_url=_safe_next(next))


@router.post("/login")
def login_submit(
    request: Request,
    db: DB,
    ip: IP,
    settings: AppSettings,
    throttle: Throttle,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the credentials, start a session and go to ``next``."""
    check_origin(request, base_url=settings.base_url)
    if not tokens_match(request.cookies.get(ANON_CSRF_COOKIE), csrf_token):
        raise CsrfRejected("The login form expired. Reload the page and try again.")
    secure = bool(settings.cookie_secure)
    try:
        user = login_uc.authenticate(
            session=db, throttle=throttle, email=email, password=password, ip=ip
        )
    except InvalidCredentials as exc:
        db.commit()  # keep the audit record of the failure
        return _login_page(
            request, secure, next_url=_safe_next(next), email=email, error=exc.message, status=401
        )
    except RateLimited as exc:
        response = _login_page(
            request, secure, next_url=_safe_next(next), email=email, error=exc.message, status=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token, _row = sessions.start_session(
        session=db,
        user=user,
        max_age_seconds=settings.session_max_age_seconds,
        ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, settings, token)
    response.delete_cookie(ANON_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(auth: CurrentAuth, db: DB, ip: IP, settings: AppSettings) -> Response:
    """End the session and go to the login page."""
    if auth.web_session is not None:
        sessions.end_session(session=db, row=auth.web_session, user=auth.user, ip=ip)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, settings)
    return response
