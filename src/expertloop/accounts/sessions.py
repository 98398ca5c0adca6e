"""Browser login sessions: created at login, looked up per request, ended at logout."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from expertloop.accounts import events
from expertloop.accounts.models import User, WebSession
from expertloop.accounts.secrets_util import new_token, token_hash
from expertloop.events import emit
from expertloop.types import utcnow

# Refresh last_seen_at at most this often, so that reads do not write on every request.
_TOUCH_EVERY = dt.timedelta(minutes=5)


def start_session(
    *,
    session: Session,
    user: User,
    max_age_seconds: int,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[str, WebSession]:
    """Create a login session; return the cookie value (shown once) and the row."""
    token = new_token()
    now = utcnow()
    session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at <= now)
    )
    row = WebSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + dt.timedelta(seconds=max_age_seconds),
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_session(*, session: Session, token: str) -> tuple[WebSession, User] | None:
    """Return the live session and its active user for a cookie value, or None."""
    row = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    if row is None:
        return None
    now = utcnow()
    if row.expires_at <= now:
        session.delete(row)
        session.flush()
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return row, user


def end_session(*, session: Session, row: WebSession, user: User, ip: str | None = None) -> None:
    """Delete one login session (logout) and audit it."""
    session.delete(row)
    session.flush()
    emit(
        events.LoggedOut(
            actor_user_id=user.id,
            organisation_id=user.organisation_id,
            subject_type="user",
            subject_id=str(user.id),
            ip=ip,
        ),
        session=session,
    )


def revoke_all_sessions(*, session: Session, user: User, keep: WebSession | None = None) -> int:
    """End every login session of ``user`` except ``keep``; return how many were ended."""
    query = delete(WebSession).where(WebSession.user_id == user.id)
    if keep is not None:
        query = query.where(WebSession.id != keep.id)
    result = session.execute(query)
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)
