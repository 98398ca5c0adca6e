"""Audit events of the accounts domain."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class LoginSucceeded(Event):
    kind: str = field(init=False, default="auth.login_succeeded")
    via: str = "password"


@dataclass(frozen=True, kw_only=True)
class LoginFailed(Event):
    kind: str = field(init=False, default="auth.login_failed")
    email: str = ""
    reason: str = "invalid_credentials"


@dataclass(frozen=True, kw_only=True)
class LoggedOut(Event):
    kind: str = field(init=False, default="auth.logged_out")


@dataclass(frozen=True, kw_only=True)
class PasswordChanged(Event):
    kind: str = field(init=False, default="auth.password_changed")
    sessions_revoked: int = 0


@dataclass(frozen=True, kw_only=True)
class TokenCreated(Event):
    kind: str = field(init=False, default="auth.token_created")
    name: str = ""
    prefix: str = ""


@dataclass(frozen=True, kw_only=True)
class TokenRevoked(Event):
    kind: str = field(init=False, default="auth.token_revoked")
    prefix: str = ""


@dataclass(frozen=True, kw_only=True)
class OrganisationCreated(Event):
    kind: str = field(init=False, default="accounts.organisation_created")
    name: str = ""
    org_kind: str = ""


@dataclass(frozen=True, kw_only=True)
class UserCreated(Event):
    kind: str = field(init=False, default="accounts.user_created")
    role: str = ""


@dataclass(frozen=True, kw_only=True)
class RoleChanged(Event):
    kind: str = field(init=False, default="accounts.role_changed")
    old_role: str = ""
    new_role: str = ""


@dataclass(frozen=True, kw_only=True)
class UserDeactivated(Event):
    kind: str = field(init=False, default="accounts.user_deactivated")


@dataclass(frozen=True, kw_only=True)
class UserReactivated(Event):
    kind: str = field(init=False, default="accounts.user_reactivated")
