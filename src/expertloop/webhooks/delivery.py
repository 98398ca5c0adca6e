"""Deliver webhooks: claim a due delivery, POST it signed, record the attempt, schedule a retry.

At least once and idempotent: a worker claims a delivery with a token and a lease before it
sends, and only the holder of the token may record the result. A worker that dies mid-send
loses its lease and the delivery is sent again, with the same ``webhook-id`` so that the
receiver can drop the repeat. No transaction is open while the request is in flight.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from expertloop import __version__
from expertloop.errors import ExpertLoopError
from expertloop.llm.secrets_box import SecretBox
from expertloop.llm.ssrf import AddressPolicy, check_url
from expertloop.llm.transport import check_literal_host, new_session
from expertloop.types import utcnow
from expertloop.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

# Wait after the n-th failed attempt (the last value repeats): 10 s, 1 min, 5 min, 30 min,
# 2 h, 5 h, 10 h. Retries are picked up by a sweep that runs every minute, so a wait shorter
# than a minute is a lower bound.
RETRY_DELAYS = (10, 60, 300, 1800, 7200, 18000, 36000)
RESPONSE_BYTES = 4096
USER_AGENT = f"ExpertLoop-Webhooks/{__version__}"


def retry_delay(failed_attempts: int) -> dt.timedelta:
    """Return how long to wait after ``failed_attempts`` failures before the next attempt."""
    index = min(max(failed_attempts, 1), len(RETRY_DELAYS)) - 1
    return dt.timedelta(seconds=RETRY_DELAYS[index])


def lease_for(timeout: float) -> dt.timedelta:
    """Return how long a claim holds: the request's timeout and room to record it."""
    return dt.timedelta(seconds=2 * timeout + 30)


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds the right to send once."""

    delivery_id: int
    token: str
    url: str
    message_id: str
    body: str
    secret: str | None
    decrypt_error: str = ""


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code, or an error before any answer."""

    at: dt.datetime
    duration_ms: int
    status_code: int | None = None
    error: str = ""
    response_body: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the receiver took the delivery (2xx)."""
        return self.status_code is not None and 200 <= self.status_code < 300


def _claimable(now: dt.datetime) -> list[object]:
    active = select(WebhookSubscription.id).where(WebhookSubscription.is_active.is_(True))
    return [
        WebhookDelivery.status == DeliveryStatus.pending,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        WebhookDelivery.subscription_id.in_(active),
    ]


def due_ids(*, session: Session, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Return deliveries whose next attempt is due and that nobody holds, oldest first."""
    now = now or utcnow()
    query = (
        select(WebhookDelivery.id)
        .where(*_claimable(now))  # type: ignore[arg-type]
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def claim(
    *,
    session: Session,
    delivery_id: int,
    box: SecretBox,
    lease: dt.timedelta,
    now: dt.datetime | None = None,
) -> Claimed | None:
    """Take the right to send a due delivery once; None if it is not due or someone holds it."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, *_claimable(now))  # type: ignore[arg-type]
        .values(claim_token=token, claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    row = session.execute(
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.id == delivery_id)
        .execution_options(populate_existing=True)
    ).one()
    delivery, sub = row
    secret: str | None = None
    decrypt_error = ""
    try:
        secret = box.decrypt(sub.secret_encrypted)
    except ExpertLoopError:
        decrypt_error = (
            "The signing secret cannot be decrypted (EXPERTLOOP_SECRET_KEY changed); "
            "delete this webhook and register it again."
        )
    return Claimed(
        delivery_id=delivery.id,
        token=token,
        url=sub.url,
        message_id=delivery.message_id,
        body=delivery.body,
        secret=secret,
        decrypt_error=decrypt_error,
    )


def signed_headers(claimed: Claimed, secret: str, at: dt.datetime) -> dict[str, str]:
    """Return the Standard Webhooks headers (and content type) for one attempt."""
    return {
        "webhook-id": claimed.message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(claimed.message_id, at, claimed.body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


async def _read_prefix(response: aiohttp.ClientResponse) -> str:
    data = b""
    while len(data) < RESPONSE_BYTES:
        chunk = await response.content.read(RESPONSE_BYTES - len(data))
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", errors="replace")


async def _send_one(
    http: aiohttp.ClientSession, claimed: Claimed, policy: AddressPolicy, timeout: float
) -> Outcome:
    at = utcnow()
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    if claimed.secret is None:
        return Outcome(at, 0, error=claimed.decrypt_error)
    try:
        _scheme, host, port = check_url(claimed.url)
        await check_literal_host(host, port, policy)  # names: the guarded resolver checks them
        headers = signed_headers(claimed, claimed.secret, at)
        async with asyncio.timeout(timeout):
            async with http.post(
                claimed.url,
                data=claimed.body.encode(),
                headers=headers,
                allow_redirects=False,  # a redirect could point anywhere; it counts as a failure
            ) as response:
                body = await _read_prefix(response)
                return Outcome(at, took(), status_code=response.status, response_body=body)
    except ExpertLoopError as exc:  # the address policy refused the URL or its addresses
        return Outcome(at, took(), error=exc.message[:500])
    except TimeoutError:
        return Outcome(at, took(), error=f"No answer within {timeout:g} s.")
    except (aiohttp.ClientError, OSError) as exc:
        return Outcome(at, took(), error=f"{type(exc).__name__}: {exc}"[:500])


async def send_all(
    claimed: Sequence[Claimed], *, policy: AddressPolicy, timeout: float
) -> list[Outcome]:
    """POST every claimed delivery at once; never raises for a receiver's fault."""
    http = new_session(policy, connect_timeout=timeout, read_timeout=timeout, max_connections=16)
    async with http:
        return list(await asyncio.gather(*(_send_one(http, c, policy, timeout) for c in claimed)))


def record(*, session: Session, claimed: Claimed, outcome: Outcome) -> DeliveryStatus | None:
    """Log the attempt and move the delivery on; None if the claim was lost (fenced out)."""
    delivery = session.get(WebhookDelivery, claimed.delivery_id, with_for_update=True)
    if delivery is None or delivery.claim_token != claimed.token:
        return None
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            at=outcome.at,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error[:500],
            response_body=outcome.response_body[:RESPONSE_BYTES],
        )
    )
    delivery.claim_token = None
    delivery.claimed_until = None
    delivery.last_status_code = outcome.status_code
    delivery.updated_at = utcnow()
    if outcome.ok:
        delivery.status = DeliveryStatus.delivered
        delivery.delivered_at = outcome.at
        delivery.next_attempt_at = None
        delivery.last_error = ""
    else:
        delivery.last_error = (
            outcome.error or f"The receiver answered {outcome.status_code}, not 2xx."
        )[:500]
        if delivery.attempts >= delivery.max_attempts:
            delivery.status = DeliveryStatus.failed
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = outcome.at + retry_delay(delivery.attempts)
    session.flush()
    return delivery.status


def release(*, session: Session, claimed: Claimed) -> None:
    """Give a claim back unused (the delivery stays due)."""
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == claimed.delivery_id,
            WebhookDelivery.claim_token == claimed.token,
        )
        .values(claim_token=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
