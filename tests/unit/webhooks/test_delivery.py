"""Sending: the address policy is checked on every connection, redirects are not followed,
answers are cut at 4 KB, and a claim fences the result (at least once, never twice at once)."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from expertloop.events import AuditLog
from expertloop.llm.secrets_box import SecretBox
from expertloop.llm.ssrf import AddressPolicy
from expertloop.types import utcnow
from expertloop.webhooks import delivery
from expertloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from expertloop.webhooks.subscriptions import new_secret
from tests.factories import World
from tests.webhook_receiver import running_receiver

ALLOWED = AddressPolicy.from_settings(False, ["127.0.0.1/32"])
STRICT = AddressPolicy()
SECRET = new_secret()
BOX = SecretBox("unit-test-secret-key-that-is-long-enough")


def _claimed(url: str, body: str = '{"type":"job.failed"}') -> delivery.Claimed:
    return delivery.Claimed(1, "token", url, "msg_unit", body, SECRET)


def _send(url: str, policy: AddressPolicy) -> delivery.Outcome:
    [outcome] = asyncio.run(delivery.send_all([_claimed(url)], policy=policy, timeout=5))
    return outcome


def test_a_signed_post_reaches_an_allowed_receiver() -> None:
    with running_receiver() as receiver:
        outcome = _send(receiver.url, ALLOWED)
        assert outcome.ok and outcome.status_code == 200
        [got] = receiver.received
        assert Webhook(SECRET).verify(got.body, got.headers) == {"type": "job.failed"}
        assert got.headers["webhook-id"] == "msg_unit"


def test_the_policy_is_checked_when_connecting_not_only_when_saving() -> None:
    with running_receiver() as receiver:
        literal = _send(receiver.url, STRICT)
        by_name = _send(receiver.url.replace("127.0.0.1", "localhost"), STRICT)
        assert receiver.received == []
    for outcome in (literal, by_name):
        assert outcome.status_code is None and not outcome.ok
        assert "not allowed" in outcome.error


def test_redirects_are_not_followed_and_answers_are_cut_at_4_kb() -> None:
    with running_receiver() as receiver:
        receiver.statuses = [307]
        receiver.reply = b"x" * 10_000
        outcome = _send(receiver.url, ALLOWED)
        assert outcome.status_code == 307 and not outcome.ok
        assert len(outcome.response_body) == delivery.RESPONSE_BYTES
        assert len(receiver.received) == 1


def test_a_refused_connection_is_an_error_not_a_crash() -> None:
    outcome = _send("http://127.0.0.1:9/nothing-listens", ALLOWED)
    assert outcome.status_code is None and outcome.error


def _delivery(db: Session, world: World) -> WebhookDelivery:
    sub = WebhookSubscription(
        organisation_id=world.org_a.id,
        url="http://127.0.0.1:9/hook",
        events=["job.failed"],
        secret_encrypted=BOX.encrypt(SECRET),
    )
    audit = AuditLog(kind="jobs.failed", organisation_id=world.org_a.id, data={})
    db.add_all([sub, audit])
    db.flush()
    row = WebhookDelivery(
        subscription_id=sub.id,
        audit_id=audit.id,
        event_type="job.failed",
        message_id="msg_claims",
        body="{}",
        max_attempts=3,
        next_attempt_at=utcnow(),
    )
    db.add(row)
    db.flush()
    return row


def test_one_claim_at_a_time_and_a_lost_claim_records_nothing(db: Session, world: World) -> None:
    row = _delivery(db, world)
    now = utcnow()
    lease = dt.timedelta(seconds=50)
    first = delivery.claim(session=db, delivery_id=row.id, box=BOX, lease=lease, now=now)
    assert first is not None and first.secret == SECRET
    assert delivery.claim(session=db, delivery_id=row.id, box=BOX, lease=lease, now=now) is None
    # The first worker went silent; after its lease another one takes over.
    later = now + lease + dt.timedelta(seconds=1)
    second = delivery.claim(session=db, delivery_id=row.id, box=BOX, lease=lease, now=later)
    assert second is not None and second.token != first.token
    failed = delivery.Outcome(at=later, duration_ms=5, status_code=500)
    assert delivery.record(session=db, claimed=first, outcome=failed) is None  # fenced out
    assert delivery.record(session=db, claimed=second, outcome=failed) == DeliveryStatus.pending
    db.refresh(row)
    assert row.attempts == 1 and row.next_attempt_at == later + dt.timedelta(seconds=10)
    # Not due yet: nobody can claim it before the retry time.
    soon = later + dt.timedelta(seconds=9)
    assert delivery.claim(session=db, delivery_id=row.id, box=BOX, lease=lease, now=soon) is None
    assert delivery.due_ids(session=db, now=soon) == []
    assert delivery.due_ids(session=db, now=later + dt.timedelta(seconds=10)) == [row.id]


def test_the_last_failed_attempt_fails_the_delivery(db: Session, world: World) -> None:
    row = _delivery(db, world)
    now = utcnow()
    for n in range(1, 4):
        got = delivery.claim(
            session=db, delivery_id=row.id, box=BOX, lease=dt.timedelta(seconds=30), now=now
        )
        assert got is not None
        status = delivery.record(
            session=db, claimed=got, outcome=delivery.Outcome(now, 1, error="Timed out.")
        )
        db.refresh(row)
        if n < 3:
            assert status == DeliveryStatus.pending
            now = row.next_attempt_at  # type: ignore[assignment]
    assert status == DeliveryStatus.failed and row.next_attempt_at is None
    assert row.last_error == "Timed out."


def test_a_paused_webhook_keeps_its_deliveries_waiting(db: Session, world: World) -> None:
    row = _delivery(db, world)
    sub = db.get(WebhookSubscription, row.subscription_id)
    assert sub is not None
    sub.is_active = False
    db.flush()
    now = utcnow() + dt.timedelta(seconds=1)
    assert delivery.due_ids(session=db, now=now) == []
    claimed = delivery.claim(
        session=db, delivery_id=row.id, box=BOX, lease=dt.timedelta(seconds=30), now=now
    )
    assert claimed is None
