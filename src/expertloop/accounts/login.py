"""Password login with per-account and per-address throttling, and password changes."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session

from expertloop.accounts import events
from expertloop.accounts.models import User, WebSession
from expertloop.accounts.passwords import hash_password, needs_rehash, verify_password
from expertloop.accounts.sessions import revoke_all_sessions
from expertloop.accounts.users import find_by_email
from expertloop.errors import InvalidCredentials, RateLimited, ValidationFailed
from expertloop.events import emit
from expertloop.types import utcnow


class LoginThrottle:
    """Count login attempts per account and per client address (the ``limits`` library).

    Storage is ``memory://`` for one process or ``redis://…`` when several processes serve.
    """

    def __init__(self, storage_url: str, per_account: str, per_address: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url))
        self._per_account: RateLimitItem = parse(per_account)
        self._per_address: RateLimitItem = parse(per_address)

    def _retry_after(self, item: RateLimitItem, *keys: str) -> int:
        stats = self._limiter.get_window_stats(item, *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def check(self, *, email: str, ip: str | None) -> None:
        """Raise ``RateLimited`` when either budget is spent."""
        checks = [(self._per_account, ("login-account", email.lower()))]
        if ip:
            checks.append((self._per_address, ("login-address", ip)))
        for item, keys in checks:
            if not self._limiter.test(item, *keys):
                raise RateLimited(
                    "Too many login attempts. Wait a while and try again.",
                    retry_after=self._retry_after(item, *keys),
                )

    def record_attempt(self, *, ip: str | None) -> None:
        """Count one attempt, successful or not, against the address's budget."""
        if ip:
            self._limiter.hit(self._per_address, "login-address", ip)

    def record_failure(self, *, email: str) -> None:
        """Count one failed attempt against the account's budget."""
        self._limiter.hit(self._per_account, "login-account", email.lower())

    def reset(self) -> None:
        """Forget every counter (used by tests and the demo)."""
        self._limiter.storage.reset()


def authenticate(
    *,
    session: Session,
    throttle: LoginThrottle,
    email: str,
    password: str,
    ip: str | None = None,
) -> User:
    """Return the active user for these credentials; audit success and failure alike.

    Every attempt counts against the address's budget and every failure against the account's,
    so that a guesser cannot probe a password list from one place or against one account; the
    budgets are wide enough for people who mistype.
    """
    email = email.strip().lower()
    throttle.check(email=email, ip=ip)
    throttle.record_attempt(ip=ip)
    user = find_by_email(session=session, email=email)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        throttle.record_failure(email=email)
        reason = "inactive" if (user is not None and ok) else "invalid_credentials"
        emit(
            events.LoginFailed(
                actor_user_id=user.id if user else None,
                organisation_id=user.organisation_id if user else None,
                subject_type="user" if user else None,
                subject_id=str(user.id) if user else None,
                ip=ip,
                email=email[:320],
                reason=reason,
            ),
            session=session,
        )
        raise InvalidCredentials("Email or password is incorrect.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    emit(
        events.LoginSucceeded(
            actor_user_id=user.id,
            organisation_id=user.organisation_id,
            subject_type="user",
            subject_id=str(user.id),
            ip=ip,
        ),
        session=session,
    )
    return user


def change_password(
    *,
    session: Session,
    user: User,
    current_password: str,
    new_password: str,
    keep_session: WebSession | None = None,
    ip: str | None = None,
) -> None:
    """Change the user's password after checking the current one; end their other sessions."""
    if not verify_password(user.password_hash, current_password):
        # A 422, not a 401: the caller is logged in, they mistyped a field.
        raise ValidationFailed("The current password is incorrect.")
    if current_password == new_password:
        raise ValidationFailed("The new password must differ from the current one.")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    session.flush()
    revoked = revoke_all_sessions(session=session, user=user, keep=keep_session)
    emit(
        events.PasswordChanged(
            actor_user_id=user.id,
            organisation_id=user.organisation_id,
            subject_type="user",
            subject_id=str(user.id),
            ip=ip,
            sessions_revoked=revoked,
        ),
        session=session,
    )
