"""Request dependencies: the database session, who is calling, and what they may do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from expertloop.accounts.login import LoginThrottle
from expertloop.accounts.models import ApiToken, Role, User, WebSession
from expertloop.accounts.sessions import resolve_session
from expertloop.accounts.tokens import resolve_token
from expertloop.db import transaction
from expertloop.errors import AuthenticationRequired
from expertloop.jobs.queue import JobQueue
from expertloop.llm.hub import ModelHub
from expertloop.settings import Settings
from expertloop.web.security import (
    SAFE_METHODS,
    CsrfRejected,
    check_origin,
    client_ip,
    submitted_csrf_token,
    tokens_match,
)


def get_settings_dep(request: Request) -> Settings:
    """Return the app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """Yield the request's session; commit when the handler succeeds, else roll back."""
    with transaction(request.app.state.session_factory) as session:
        yield session


def get_throttle(request: Request) -> LoginThrottle:
    """Return the app's login throttle."""
    throttle: LoginThrottle = request.app.state.throttle
    return throttle


def get_ip(request: Request) -> str | None:
    """Return the caller's address as configured (proxy-aware or not)."""
    return client_ip(request, trust_forwarded_for=request.app.state.settings.trust_forwarded_for)


def get_hub(request: Request) -> ModelHub:
    """Return the app's model clients."""
    hub: ModelHub = request.app.state.hub
    return hub


def get_jobs(request: Request) -> JobQueue:
    """Return the app's job queue."""
    queue: JobQueue = request.app.state.jobs
    return queue


# scope="function": the commit happens before the response is sent, so a client that follows a
# redirect sees the change, and a failed commit is reported instead of a false success.
DB = Annotated[Session, Depends(get_db, scope="function")]
Hub = Annotated[ModelHub, Depends(get_hub)]
Jobs = Annotated[JobQueue, Depends(get_jobs)]
IP = Annotated[str | None, Depends(get_ip)]
AppSettings = Annotated[Settings, Depends(get_settings_dep)]
Throttle = Annotated[LoginThrottle, Depends(get_throttle)]


@dataclass
class Auth:
    """Who is calling and how they proved it."""

    user: User
    via: Literal["session", "token"]
    web_session: WebSession | None = None
    token: ApiToken | None = None

    @property
    def csrf_token(self) -> str:
        """Return the session's CSRF token ('' for token-authenticated calls)."""
        return self.web_session.csrf_token if self.web_session else ""


@dataclass(frozen=True)
class Viewer:
    """A plain snapshot of the caller for page chrome; safe to use after a rollback."""

    user_id: int
    name: str
    role: Role
    csrf_token: str


def optional_auth(request: Request, db: DB) -> Auth | None:
    """Resolve a bearer token or the session cookie; None when neither is valid."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        found_token = resolve_token(session=db, secret=header[7:].strip())
        if found_token is None:
            raise AuthenticationRequired("The API token is invalid, expired or revoked.")
        token, user = found_token
        auth = Auth(user=user, via="token", token=token)
    else:
        cookie = request.cookies.get(request.app.state.settings.session_cookie_name)
        found = resolve_session(session=db, token=cookie) if cookie else None
        if found is None:
            return None
        web_session, user = found
        auth = Auth(user=user, via="session", web_session=web_session)
    request.state.auth = auth
    request.state.viewer = Viewer(
        user_id=auth.user.id,
        name=auth.user.name,
        role=auth.user.role,
        csrf_token=auth.csrf_token,
    )
    return auth


async def require_auth(
    request: Request, auth: Annotated[Auth | None, Depends(optional_auth)]
) -> Auth:
    """Require a logged-in caller; cookie-authenticated changes must carry the CSRF token."""
    if auth is None:
        raise AuthenticationRequired("Log in to continue.")
    if auth.via == "session" and request.method not in SAFE_METHODS:
        check_origin(request, base_url=request.app.state.settings.base_url)
        if not tokens_match(auth.csrf_token, await submitted_csrf_token(request)):
            raise CsrfRejected(
                "Missing or wrong CSRF token: send the X-CSRF-Token header (or the csrf_token "
                "form field) from your session."
            )
    return auth


async def require_user(auth: Annotated[Auth, Depends(require_auth)]) -> User:
    """Return the logged-in user."""
    return auth.user


CurrentAuth = Annotated[Auth, Depends(require_auth)]
CurrentUser = Annotated[User, Depends(require_user)]
MaybeAuth = Annotated[Auth | None, Depends(optional_auth)]


@dataclass
class Page:
    """Pagination parameters."""

    limit: int
    offset: int


def pagination(
    limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0
) -> Page:
    """Read ``limit`` and ``offset`` query parameters."""
    return Page(limit=limit, offset=offset)


Paging = Annotated[Page, Depends(pagination)]
