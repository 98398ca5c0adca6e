"""Domain errors: each carries a stable code; the web layer maps codes to HTTP statuses."""

from __future__ import annotations

from typing import Any


class ExpertLoopError(Exception):
    """Base of every error the application raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ConfigurationError(ExpertLoopError):
    """Settings or environment make it unsafe or impossible to run."""

    code = "configuration_error"


class NotFound(ExpertLoopError):
    """The thing does not exist, or the caller may not know that it exists."""

    code = "not_found"


class PermissionDenied(ExpertLoopError):
    """The caller may see the thing but not do this to it."""

    code = "permission_denied"


class AuthenticationRequired(ExpertLoopError):
    """The caller is not logged in or the credentials are wrong."""

    code = "authentication_required"


class InvalidCredentials(AuthenticationRequired):
    """Email or password (or token) did not match."""

    code = "invalid_credentials"


class RateLimited(ExpertLoopError):
    """Too many attempts; try again later."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class Conflict(ExpertLoopError):
    """The change collides with the current state (duplicate, stale version)."""

    code = "conflict"


class Gone(ExpertLoopError):
    """The thing existed but cannot be used any more (a used, expired or revoked link)."""

    code = "gone"


class ValidationFailed(ExpertLoopError):
    """Input is well-formed but not acceptable."""

    code = "validation_failed"


class SchemaOutOfDateError(ConfigurationError):
    """The database schema is behind the code."""

    code = "schema_out_of_date"
