"""Errors the client raises: one hierarchy, parsed from the server's ``{"error": {...}}`` body."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from expertloop.client.models import Import, Job, Snapshot


class ExpertLoopError(Exception):
    """An error answered by the server (``status`` is its HTTP status) or found by the client.

    ``code`` is the server's stable error code (``not_found``, ``conflict``, …), ``message`` is
    meant for people and ``details`` carries what the server added (``current_version``, …).
    Errors the client finds itself (a failed job, a checksum mismatch) have ``status`` None.
    """

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status is not None else ""
        return f"{prefix}{self.code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )


class BadRequest(ExpertLoopError):
    """400: a malformed request."""


class AuthenticationError(ExpertLoopError):
    """401: not logged in, a bad, expired or revoked token, or a wrong email or password."""


class PermissionDenied(ExpertLoopError):
    """403: you may see the thing but your role may not do this (or a CSRF refusal)."""


class NotFound(ExpertLoopError):
    """404: it does not exist, or you may not see it."""


class Conflict(ExpertLoopError):
    """409: a duplicate, a stale version, or a state that does not allow the action."""


class PayloadTooLarge(ExpertLoopError):
    """413: the upload is larger than the server accepts."""


class UnsupportedMediaType(ExpertLoopError):
    """415: the body was not sent the way the route takes it."""


class ValidationError(ExpertLoopError):
    """422: the request does not match the schema, or its values are not acceptable."""


class RateLimited(ExpertLoopError):
    """429: too many requests; ``retry_after`` says how many seconds to wait (if known)."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.headers)


class ServerError(ExpertLoopError):
    """5xx: the server (or a proxy before it) failed."""


class JobFailed(ExpertLoopError):
    """A background job ended ``failed`` or ``cancelled``; ``job`` is how it ended."""

    def __init__(self, job: Job) -> None:
        verb = "was cancelled" if job.status == "cancelled" else "failed"
        super().__init__(
            None,
            f"job_{job.status}",
            f"Job {job.id} ({job.kind}) {verb}: {job.error or 'no reason given'}",
            {"job_id": job.id},
        )
        self.job = job


class ImportFailed(ExpertLoopError):
    """A seed import was refused (nothing was imported); ``seed_import.errors`` says where."""

    def __init__(self, seed_import: Import) -> None:
        first = "; ".join(
            f"line {e.line}" + (f" ({e.field})" if e.field else "") + f": {e.message}"
            for e in seed_import.errors[:3]
        )
        super().__init__(
            None,
            "import_failed",
            f"Import {seed_import.id} failed with {seed_import.error_count} error(s)"
            + (f": {first}" if first else "."),
            {"import_id": seed_import.id},
        )
        self.seed_import = seed_import


class SnapshotFailed(ExpertLoopError):
    """A snapshot could not be built; ``snapshot.error`` says why."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__(
            None,
            "snapshot_failed",
            f"Snapshot {snapshot.id} failed: {snapshot.error or 'no reason given'}",
            {"snapshot_id": snapshot.id},
        )
        self.snapshot = snapshot


class WaitTimeout(ExpertLoopError, TimeoutError):
    """Waiting for a job or snapshot took longer than the timeout (it may still finish)."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(None, "timeout", message, details)


class IntegrityError(ExpertLoopError):
    """A downloaded file does not match the size or sha256 its snapshot's manifest lists."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(None, "integrity_error", message, details)


class UnsafeArchive(ExpertLoopError):
    """An archive entry would land outside the destination (absolute path, ``..``, a link)."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(None, "unsafe_archive", message, details)


_BY_STATUS: dict[int, type[ExpertLoopError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationError,
    429: RateLimited,
}


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (a number of seconds), if any."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None  # an HTTP date: rare from this server; the backoff applies
    return None


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> ExpertLoopError:
    """Build the exception for an error response (any body: the server's JSON or a proxy's)."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ExpertLoopError)
    code, message, details = f"http_{status}", "", None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or code)
        message = str(error.get("message") or "")
        raw = error.get("details")
        details = raw if isinstance(raw, dict) else None
    if not message:
        text = body[:300].decode("utf-8", "replace").strip()
        message = text or f"HTTP {status}"
    return cls(status, code, message, details, headers=headers)
