"""Personal API tokens: shown once, stored hashed, revocable."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts import events
from expertloop.accounts.models import ApiToken, User
from expertloop.accounts.secrets_util import new_token, token_hash
from expertloop.errors import NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.types import utcnow

TOKEN_PREFIX = "elk_"  # noqa: S105 - a public marker, not a secret
_TOUCH_EVERY = dt.timedelta(minutes=1)


def create_token(
    *,
    session: Session,
    user: User,
    name: str,
    expires_in_days: int | None = None,
    ip: str | None = None,
) -> tuple[str, ApiToken]:
    """Create a token for ``user``; return the secret (never stored) and the row."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("Token name must be 1 to 100 characters.")
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise ValidationFailed("Token expiry must be between 1 and 3650 days.")
    secret = new_token(TOKEN_PREFIX)
    row = ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=token_hash(secret),
        expires_at=utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    session.flush()
    emit(
        events.TokenCreated(
            actor_user_id=user.id,
            organisation_id=user.organisation_id,
            subject_type="api_token",
            subject_id=str(row.id),
            ip=ip,
            name=name,
            prefix=row.prefix,
        ),
        session=session,
    )
    return secret, row


def resolve_token(*, session: Session, secret: str) -> tuple[ApiToken, User] | None:
    """Return the live token and its active user for a bearer secret, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        row.last_used_at = now
        session.flush()
    return row, user


def list_tokens(*, session: Session, user: User) -> list[ApiToken]:
    """Return the user's tokens, newest first."""
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def revoke_token(*, session: Session, user: User, token_id: int, ip: str | None = None) -> ApiToken:
    """Revoke one of the user's own tokens; another user's token is ``NotFound``."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound("Token not found.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
        emit(
            events.TokenRevoked(
                actor_user_id=user.id,
                organisation_id=user.organisation_id,
                subject_type="api_token",
                subject_id=str(row.id),
                ip=ip,
                prefix=row.prefix,
            ),
            session=session,
        )
    return row
