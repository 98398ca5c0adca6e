"""When to retry a model call and how long to wait."""

from __future__ import annotations

import email.utils
import random
import time

# Statuses worth another try: rate limits and server-side trouble.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


def is_retryable(status: int, body: str) -> bool:
    """Tell whether an HTTP failure may succeed on retry (never 400/401/403 or spent quota)."""
    if status == 429 and "insufficient_quota" in body:
        return False
    return status in RETRYABLE_STATUSES


def retry_after_seconds(header: str | None) -> float | None:
    """Parse a Retry-After header (seconds or an HTTP date)."""
    if not header:
        return None
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(attempt: int, *, base: float, cap: float, retry_after: float | None) -> float:
    """Return the wait before retry ``attempt`` (1-based): Retry-After if given, else jittered
    exponential backoff ("full jitter"); always at most ``cap``."""
    if retry_after is not None:
        return min(cap, retry_after)
    return random.uniform(0, min(cap, base * (2 ** (attempt - 1))))
