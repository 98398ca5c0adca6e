"""What the sync and async clients share: requests as data, the retry rule, error parsing.

Every API method is written once, as a generator (see ``_ops``) that yields ``Call`` (one HTTP
request) and ``Sleep`` commands and receives each call's ``Reply``. The sync client runs those
commands with ``httpx.Client`` and ``time.sleep``, the async one with ``httpx.AsyncClient`` and
``asyncio.sleep``; neither knows what a method does.
"""

from __future__ import annotations

import io
import json as jsonlib
import os
import random
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import IO, Any, TypeVar
from urllib.parse import quote

from expertloop.client.errors import ExpertLoopError, error_from_response, retry_after_seconds

T = TypeVar("T")
API_PREFIX = "/api/v1"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
CHUNK = 64 * 1024

Params = Mapping[str, str | int | float | bool | None]


@dataclass(frozen=True)
class Call:
    """One HTTP request, relative to ``/api/v1``.

    ``content`` is the raw body (bytes or a binary file, streamed); ``stream_to`` makes the
    response body go to that binary file instead of memory. ``idempotent`` (default: by method)
    says whether the request may be sent again after a 429/502/503/504 or a dropped connection.
    """

    method: str
    path: str
    params: Params | None = None
    json: Any = None
    content: bytes | IO[bytes] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool | None = None
    stream_to: IO[bytes] | None = None

    @property
    def retryable(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in IDEMPOTENT_METHODS


@dataclass(frozen=True)
class Reply:
    """A successful response: status, headers (lower-case names), body (empty if streamed)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds (between polls)."""

    seconds: float


Command = Call | Sleep
Op = Generator[Command, Reply | None, T]


def request(call: Call) -> Generator[Command, Reply | None, Reply]:
    """Send ``call`` and return its reply (use with ``yield from``)."""
    reply = yield call
    assert isinstance(reply, Reply), "the driver answers a Call with a Reply"
    return reply


def sleep(seconds: float) -> Generator[Command, Reply | None, None]:
    """Wait (use with ``yield from``)."""
    yield Sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before sending an idempotent request again.

    The wait is ``Retry-After`` when the server sends one (up to ``max_wait``; a longer one is
    not waited for and the error is raised), else exponential backoff with jitter.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 60.0

    def delay(self, attempt: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Return the seconds to wait before attempt ``attempt + 1``, or None to stop."""
        if attempt >= self.attempts:
            return None
        asked = retry_after_seconds(headers or {})
        if asked is not None:
            return asked if asked <= self.max_wait else None
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return float(ceiling * (0.5 + random.random() / 2))


class TransportError(ExpertLoopError):
    """The request did not get an answer (connection refused or dropped, timeout)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, "transport_error", message)


def api_root(base_url: str) -> str:
    """Return the API's root URL for an instance's base URL (``/api/v1`` added once)."""
    root = base_url.rstrip("/")
    return root if root.endswith(API_PREFIX) else root + API_PREFIX


def user_agent() -> str:
    try:
        version = metadata.version("expertloop")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"expertloop-client/{version}"


def default_headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": user_agent()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def path_segment(value: str | int) -> str:
    """Quote a value for one path segment."""
    return quote(str(value), safe="")


def file_path(value: str) -> str:
    """Quote a relative file path (its slashes kept); refuse absolute paths and ``..``."""
    parts = value.split("/")
    if value.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{value!r} is not a plain relative path")
    return "/".join(quote(p, safe="") for p in parts)


def clean_params(params: Params | None) -> dict[str, str | int | float | bool] | None:
    """Drop unset query parameters; booleans as the server reads them."""
    if not params:
        return None
    out: dict[str, str | int | float | bool] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def body_size(content: bytes | IO[bytes] | None) -> int | None:
    """Return the body's length when it can be known without reading it."""
    if content is None:
        return None
    if isinstance(content, bytes):
        return len(content)
    try:
        fileno = content.fileno()
    except (OSError, AttributeError, io.UnsupportedOperation):
        fileno = None
    if fileno is not None:
        try:
            return os.fstat(fileno).st_size - content.tell()
        except OSError:
            return None
    if content.seekable():
        here = content.tell()
        end = content.seek(0, os.SEEK_END)
        content.seek(here)
        return end - here
    return None


class Rewind:
    """Remember where a file body starts, so a retry can send it again from there."""

    def __init__(self, content: bytes | IO[bytes] | None) -> None:
        self._file = content if content is not None and not isinstance(content, bytes) else None
        self._start: int | None = None
        if self._file is not None and self._file.seekable():
            self._start = self._file.tell()

    @property
    def possible(self) -> bool:
        return self._file is None or self._start is not None

    def __call__(self) -> None:
        if self._file is not None and self._start is not None:
            self._file.seek(self._start)


def retry_delay(
    policy: RetryPolicy,
    call: Call,
    attempt: int,
    rewind: Rewind,
    *,
    error: ExpertLoopError | None = None,
    connect_failed: bool = False,
) -> float | None:
    """Return how long to wait before sending ``call`` again, or None to give up now.

    Only idempotent calls are sent again (a refused connection never reached the server, so
    any call is), only for 429/502/503/504 or a transport failure, and only when the body can
    be sent again from its start.
    """
    if not rewind.possible:
        return None
    if error is not None:
        if error.status not in RETRY_STATUSES or not call.retryable:
            return None
        return policy.delay(attempt, error.headers)
    if call.retryable or connect_failed:
        return policy.delay(attempt)
    return None


class Sink:
    """Where a streamed body goes: back to its start before each attempt (a retry restarts it)."""

    def __init__(self, target: IO[bytes] | None) -> None:
        self._target = target
        self._start = target.tell() if target is not None and target.seekable() else None

    def reset(self) -> None:
        if self._target is not None and self._start is not None:
            self._target.seek(self._start)
            self._target.truncate()


def request_headers(call: Call) -> dict[str, str]:
    """Return the call's own headers, with the body's length when it is known up front."""
    headers = dict(call.headers)
    size = body_size(call.content)
    if size is not None:
        headers["Content-Length"] = str(size)
    return headers


def error_for(status: int, body: bytes, headers: Mapping[str, str]) -> ExpertLoopError:
    """Return the exception for an error response."""
    return error_from_response(status, body, {k.lower(): v for k, v in headers.items()})
