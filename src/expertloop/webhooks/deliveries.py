"""The delivery log of a subscription (shared by the API and the page) and "Redeliver"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import Conflict, NotFound
from expertloop.events import emit
from expertloop.jobs import records
from expertloop.jobs.models import Job
from expertloop.jobs.queue import JobQueue
from expertloop.types import utcnow
from expertloop.webhooks import events, policies
from expertloop.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

DELIVER_KIND = "webhooks.deliver"


@dataclass(frozen=True)
class AttemptView:
    """One attempt as the log shows it."""

    number: int
    at: dt.datetime
    duration_ms: int
    status_code: int | None
    error: str
    response_body: str


@dataclass(frozen=True)
class DeliveryView:
    """One delivery with its attempts, newest attempt last."""

    id: int
    subscription_id: int
    event_type: str
    message_id: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    payload: dict[str, Any]
    attempt_log: list[AttemptView]

    @property
    def can_redeliver(self) -> bool:
        """Tell whether "Redeliver" makes sense now (any delivery not waiting its first send)."""
        return self.status != DeliveryStatus.pending or self.attempts > 0


@dataclass(frozen=True)
class DeliveryLog:
    """A page of a subscription's deliveries, newest first."""

    items: list[DeliveryView]
    total: int
    limit: int
    offset: int


def delivery_log(
    *,
    session: Session,
    sub: WebhookSubscription,
    limit: int = 50,
    offset: int = 0,
    status: DeliveryStatus | None = None,
) -> DeliveryLog:
    """Return a page of the subscription's deliveries with their attempts (the caller checked
    the actor may see the subscription)."""
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset))
    )
    attempts: dict[int, list[AttemptView]] = {r.id: [] for r in rows}
    if rows:
        for a in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(attempts))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        ):
            attempts[a.delivery_id].append(
                AttemptView(a.number, a.at, a.duration_ms, a.status_code, a.error, a.response_body)
            )
    items = [
        DeliveryView(
            id=r.id,
            subscription_id=r.subscription_id,
            event_type=r.event_type,
            message_id=r.message_id,
            status=r.status,
            attempts=r.attempts,
            max_attempts=r.max_attempts,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            next_attempt_at=r.next_attempt_at,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            payload=r.payload,
            attempt_log=attempts[r.id],
        )
        for r in rows
    ]
    return DeliveryLog(items, int(total), limit, offset)


def submit_delivery_job(
    *, session: Session, queue: JobQueue, delivery_ids: list[int], actor: User | None = None
) -> Job:
    """Hand deliveries to the queue as one job (sent after the caller's transaction commits)."""
    n = len(delivery_ids)
    return records.submit(
        session=session,
        queue=queue,
        kind=DELIVER_KIND,
        payload={"delivery_ids": delivery_ids},
        actor=actor,
        title=f"Deliver {n} webhook event{'s' if n != 1 else ''}",
    )


def redeliver(
    *,
    session: Session,
    queue: JobQueue,
    actor: User,
    delivery_id: int,
    ip: str | None = None,
) -> tuple[WebhookDelivery, Job]:
    """Send a delivery again now, with the same ``webhook-id``: one more attempt for a finished
    one, or the next retry brought forward for one still retrying."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    sub = session.get(WebhookSubscription, delivery.subscription_id) if delivery else None
    if delivery is None or sub is None or not policies.can_manage(actor, sub.organisation_id):
        raise NotFound("No such delivery.")
    now = utcnow()
    if delivery.claimed_until is not None and delivery.claimed_until > now:
        raise Conflict("This delivery is being sent right now; look again in a moment.")
    if not sub.is_active:
        raise Conflict("The webhook is paused; resume it to send deliveries.")
    if delivery.status != DeliveryStatus.pending:
        delivery.max_attempts = delivery.attempts + 1
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now
    delivery.updated_at = now
    session.flush()
    emit(
        events.WebhookRedelivered(
            actor_user_id=actor.id,
            organisation_id=sub.organisation_id,
            ip=ip,
            subject_type="webhook_delivery",
            subject_id=str(delivery.id),
            subscription_id=sub.id,
            event_type=delivery.event_type,
        ),
        session=session,
    )
    job = submit_delivery_job(session=session, queue=queue, delivery_ids=[delivery.id], actor=actor)
    return delivery, job
