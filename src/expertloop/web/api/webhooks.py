"""Webhooks: a client organisation's URLs for events, their signed deliveries and the log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from expertloop.web.api.common import ERRORS, ErrorOut, PageOut
from expertloop.web.deps import DB, IP, AppSettings, CurrentUser, Hub, Jobs, Paging
from expertloop.webhooks import deliveries, subscriptions
from expertloop.webhooks.models import DeliveryStatus
from expertloop.webhooks.policies import ReceiverRules
from expertloop.webhooks.schemas import (
    DeliveryOut,
    RedeliveryOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"], responses=ERRORS)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Changed elsewhere, or in flight"}
}


@router.post("", response_model=WebhookCreatedOut, status_code=201)
def create_webhook(
    body: WebhookIn, user: CurrentUser, db: DB, hub: Hub, settings: AppSettings, ip: IP
) -> WebhookCreatedOut:
    """Register a URL for events; the answer holds the signing secret, shown this once."""
    created = subscriptions.create(
        session=db,
        actor=user,
        box=hub.box,
        rules=ReceiverRules.from_settings(settings),
        url=body.url,
        events_=body.events,
        description=body.description,
        organisation_id=body.organisation_id,
        ip=ip,
    )
    out = WebhookOut.model_validate(created.subscription)
    return WebhookCreatedOut(**out.model_dump(), secret=created.secret)


@router.get("", response_model=PageOut[WebhookOut])
def list_webhooks(
    user: CurrentUser,
    db: DB,
    page: Paging,
    organisation_id: int | None = Query(default=None, description="Operators: one organisation."),
) -> PageOut[WebhookOut]:
    """List the webhooks you manage (a client's organisation's; all for operators)."""
    rows, total = subscriptions.list_for(
        session=db,
        actor=user,
        organisation_id=organisation_id,
        limit=page.limit,
        offset=page.offset,
    )
    return PageOut[WebhookOut](
        items=[WebhookOut.model_validate(r) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{webhook_id}", response_model=WebhookOut)
def get_webhook(webhook_id: int, user: CurrentUser, db: DB) -> WebhookOut:
    """Return one webhook (never its secret)."""
    return WebhookOut.model_validate(
        subscriptions.get(session=db, actor=user, webhook_id=webhook_id)
    )


@router.patch("/{webhook_id}", response_model=WebhookOut, responses=CONFLICT)
def update_webhook(
    webhook_id: int,
    body: WebhookPatch,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    ip: IP,
) -> WebhookOut:
    """Change the URL (checked again), the events, the description, or pause and resume."""
    sub = subscriptions.get(session=db, actor=user, webhook_id=webhook_id)
    updated = subscriptions.update(
        session=db,
        actor=user,
        sub=sub,
        rules=ReceiverRules.from_settings(settings),
        url=body.url,
        events_=body.events,
        description=body.description,
        is_active=body.active,
        version=body.version,
        ip=ip,
    )
    return WebhookOut.model_validate(updated)


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(webhook_id: int, user: CurrentUser, db: DB, ip: IP) -> Response:
    """Remove a webhook with its delivery log."""
    sub = subscriptions.get(session=db, actor=user, webhook_id=webhook_id)
    subscriptions.delete(session=db, actor=user, sub=sub, ip=ip)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=PageOut[DeliveryOut])
def list_deliveries(
    webhook_id: int,
    user: CurrentUser,
    db: DB,
    page: Paging,
    status: DeliveryStatus | None = None,
) -> PageOut[DeliveryOut]:
    """The delivery log: each event sent, its status, attempts with status codes, next retry."""
    sub = subscriptions.get(session=db, actor=user, webhook_id=webhook_id)
    log = deliveries.delivery_log(
        session=db, sub=sub, limit=page.limit, offset=page.offset, status=status
    )
    return PageOut[DeliveryOut](
        items=[DeliveryOut.model_validate(d) for d in log.items],
        total=log.total,
        limit=log.limit,
        offset=log.offset,
    )


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=RedeliveryOut,
    status_code=202,
    responses=CONFLICT,
)
def redeliver(delivery_id: int, user: CurrentUser, db: DB, jobs: Jobs, ip: IP) -> RedeliveryOut:
    """Send a delivery again now, with the same webhook-id (a job sends it)."""
    delivery, job = deliveries.redeliver(
        session=db, queue=jobs, actor=user, delivery_id=delivery_id, ip=ip
    )
    return RedeliveryOut(delivery_id=delivery.id, status=delivery.status, job_id=job.id)
