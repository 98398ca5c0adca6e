"""Set and clear the login session cookie."""

from __future__ import annotations

from starlette.responses import Response

from expertloop.settings import Settings


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    """Set the HttpOnly, SameSite=Lax session cookie."""
    response.set_cookie(
        settings.session_cookie_name,
        token,
        max_age=settings.session_max_age_seconds,
        httponly=True,
        secure=bool(settings.cookie_secure),
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    """Remove the session cookie."""
    response.delete_cookie(
        settings.session_cookie_name,
        path="/",
        httponly=True,
        secure=bool(settings.cookie_secure),
        samesite="lax",
    )
