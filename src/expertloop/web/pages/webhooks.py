"""Webhook pages: the list with the form to register one (its secret shown once), and each
webhook's delivery log with Redeliver."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.errors import Conflict, ValidationFailed
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, IP, AppSettings, CurrentUser, Hub, Jobs
from expertloop.web.templating import render
from expertloop.webhooks import deliveries, subscriptions
from expertloop.webhooks.models import DeliveryStatus
from expertloop.webhooks.outbox import EVENT_LABELS, EVENT_TYPES
from expertloop.webhooks.policies import ReceiverRules

router = APIRouter(prefix="/webhooks")
PAGE_SIZE = 25


def _list_page(
    request: Request, db: DB, user: CurrentUser, page: int = 1, status: int = 200, **extra: object
) -> Response:
    rows, total = subscriptions.list_for(
        session=db, actor=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    orgs = subscriptions.client_organisations(session=db, actor=user)
    context: dict[str, object] = {
        "webhooks": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "orgs": orgs,
        "org_names": {o.id: o.name for o in orgs},
        "event_types": EVENT_TYPES,
        "event_labels": EVENT_LABELS,
        "form": {"events": list(EVENT_TYPES)},
        **extra,
    }
    return render(request, "webhooks/list.html", context, status)


@router.get("")
def webhooks_page(
    request: Request, user: CurrentUser, db: DB, page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    """List the webhooks you manage, with the form to register one."""
    return _list_page(request, db, user, page)


@router.post("")
def webhooks_create(
    request: Request,
    user: CurrentUser,
    db: DB,
    hub: Hub,
    settings: AppSettings,
    ip: IP,
    url: Annotated[str, Form(max_length=2000)] = "",
    description: Annotated[str, Form(max_length=300)] = "",
    events: Annotated[list[str] | None, Form()] = None,
    organisation_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Register a webhook and show its secret this once (or the form again with the reason)."""
    form = {
        "url": url,
        "description": description,
        "events": events or [],
        "organisation_id": organisation_id,
    }
    try:
        url = clean_text(url, field="URL", max_length=2000, one_line=True)
        description = clean_text(description, field="Description", max_length=300)
        created = subscriptions.create(
            session=db,
            actor=user,
            box=hub.box,
            rules=ReceiverRules.from_settings(settings),
            url=url,
            events_=events or [],
            description=description,
            organisation_id=int(organisation_id) if organisation_id.isdigit() else None,
            ip=ip,
        )
    except (ValidationFailed, Conflict) as exc:
        return _list_page(request, db, user, 1, 422, form=form, error=exc.message)
    return _list_page(request, db, user, 1, created=created)


@router.get("/{webhook_id}")
def webhook_detail(
    request: Request,
    webhook_id: int,
    user: CurrentUser,
    db: DB,
    page: Annotated[int, Query(ge=1)] = 1,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> Response:
    """Show one webhook and its delivery log (event, status, attempts, next retry)."""
    sub = subscriptions.get(session=db, actor=user, webhook_id=webhook_id)
    log = deliveries.delivery_log(
        session=db, sub=sub, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, status=status
    )
    orgs = subscriptions.client_organisations(session=db, actor=user)
    return render(
        request,
        "webhooks/detail.html",
        {
            "webhook": sub,
            "log": log,
            "org_names": {o.id: o.name for o in orgs},
            "event_labels": EVENT_LABELS,
            "page": page,
            "pages": max(1, -(-log.total // PAGE_SIZE)),
            "status": status,
            "statuses": list(DeliveryStatus),
            "pager_extra": f"&status={status.value}" if status else "",
        },
    )


@router.post("/{webhook_id}/active")
def webhook_toggle(
    webhook_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    ip: IP,
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Pause or resume a webhook."""
    sub = subscriptions.get(session=db, actor=user, webhook_id=webhook_id)
    subscriptions.update(
        session=db,
        actor=user,
        sub=sub,
        rules=ReceiverRules.from_settings(settings),
        is_active=active == "true",
        ip=ip,
    )
    return RedirectResponse(f"/webhooks/{webhook_id}", status_code=303)


@router.post("/{webhook_id}/delete")
def webhook_delete(webhook_id: int, user: CurrentUser, db: DB, ip: IP) -> Response:
    """Remove a webhook with its delivery log."""
    sub = subscriptions.get(session=db, actor=user, webhook_id=webhook_id)
    subscriptions.delete(session=db, actor=user, sub=sub, ip=ip)
    return RedirectResponse("/webhooks", status_code=303)


@router.post("/deliveries/{delivery_id}/redeliver")
def delivery_redeliver(delivery_id: int, user: CurrentUser, db: DB, jobs: Jobs, ip: IP) -> Response:
    """Send a delivery again now and come back to the log."""
    delivery, _job = deliveries.redeliver(
        session=db, queue=jobs, actor=user, delivery_id=delivery_id, ip=ip
    )
    return RedirectResponse(f"/webhooks/{delivery.subscription_id}", status_code=303)
