"""Isolation cases for webhooks: B's client registered a webhook with one delivery in its log;
outsiders get 404 on every route with an id, and change nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.events import AuditLog
from expertloop.types import utcnow
from expertloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from expertloop.webhooks.subscriptions import new_secret
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case


@b_side
def _b_webhook(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """A webhook of B's and a failed delivery of it (rows written directly: nothing is sent)."""
    sub = WebhookSubscription(
        organisation_id=world.org_b.id,
        url="http://127.0.0.1:9/b-secret-receiver",
        description="B's confidential pipeline",
        events=["job.failed"],
        secret_encrypted=app.state.hub.box.encrypt(new_secret()),
        created_by_id=world.client_b.id,
    )
    audit = AuditLog(kind="test.b_webhook_source", organisation_id=world.org_b.id, data={})
    db.add_all([sub, audit])
    db.flush()
    delivery = WebhookDelivery(
        subscription_id=sub.id,
        audit_id=audit.id,
        event_type="job.failed",
        message_id="msg_b_isolation",
        body='{"type":"job.failed","data":{}}',
        status=DeliveryStatus.failed,
        attempts=1,
        max_attempts=1,
        created_at=utcnow(),
    )
    db.add(delivery)
    db.commit()
    return {"b_webhook_id": sub.id, "b_delivery_id": delivery.id}


@b_state("webhooks")
def _webhooks(db: Session, world: World) -> Any:
    subs = db.scalars(
        select(WebhookSubscription).where(WebhookSubscription.organisation_id == world.org_b.id)
    ).all()
    deliveries = db.scalars(
        select(WebhookDelivery).where(WebhookDelivery.subscription_id.in_([s.id for s in subs]))
    ).all()
    return (
        sorted((s.id, s.url, tuple(s.events), s.is_active, s.version) for s in subs),
        sorted((d.id, d.status.value, d.attempts, d.max_attempts) for d in deliveries),
    )


@isolation_case("webhooks")
def _webhooks_probes(w: World) -> list[Probe]:
    return [
        Probe("GET", "/api/v1/webhooks/{b_webhook_id}"),
        Probe("PATCH", "/api/v1/webhooks/{b_webhook_id}", {"active": False}),
        Probe("DELETE", "/api/v1/webhooks/{b_webhook_id}"),
        Probe("GET", "/api/v1/webhooks/{b_webhook_id}/deliveries"),
        Probe("POST", "/api/v1/webhooks/deliveries/{b_delivery_id}/redeliver"),
        Probe("GET", "/webhooks/{b_webhook_id}"),
        Probe("POST", "/webhooks/{b_webhook_id}/active", {"active": "false"}),
        Probe("POST", "/webhooks/{b_webhook_id}/delete"),
        Probe("POST", "/webhooks/deliveries/{b_delivery_id}/redeliver"),
    ]
