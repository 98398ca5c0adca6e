"""Register, list, change and remove webhook subscriptions; services only ``flush()``."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Organisation, OrganisationKind, User
from expertloop.accounts.policies import is_operator
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.llm.secrets_box import SecretBox
from expertloop.types import utcnow
from expertloop.webhooks import events, policies
from expertloop.webhooks.models import WebhookSubscription
from expertloop.webhooks.outbox import EVENT_TYPES
from expertloop.webhooks.policies import ReceiverRules, check_receiver_url

# Enough for any real integration; a cap keeps one organisation from fanning out without end.
MAX_PER_ORGANISATION = 25
NOT_FOUND = "No such webhook."


@dataclass(frozen=True)
class Created:
    """A new subscription and its secret: the only time the secret is shown."""

    subscription: WebhookSubscription
    secret: str


def new_secret() -> str:
    """Return a fresh signing secret in the Standard Webhooks form ``whsec_<base64>``."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _clean_events(values: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if not chosen:
        raise ValidationFailed(
            "Choose at least one event: " + ", ".join(EVENT_TYPES) + ".",
            details={"field": "events"},
        )
    unknown = [v for v in chosen if v not in EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"Unknown event type {unknown[0]!r}; choose from " + ", ".join(EVENT_TYPES) + ".",
            details={"field": "events"},
        )
    return [e for e in EVENT_TYPES if e in chosen]


def _clean_description(text: str) -> str:
    text = text.strip()
    if len(text) > 300:
        raise ValidationFailed("The description is longer than 300 characters.")
    return text


def redacted(url: str) -> str:
    """Return the URL without its query (which may hold a receiver's token), for the audit log."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _owner_organisation(session: Session, actor: User, organisation_id: int | None) -> int:
    if not policies.uses_webhooks(actor):
        raise NotFound(NOT_FOUND)
    if not is_operator(actor):
        if organisation_id not in (None, actor.organisation_id) or actor.organisation_id is None:
            raise NotFound("No such organisation.")
        return actor.organisation_id
    if organisation_id is None:
        raise ValidationFailed(
            "Say which client organisation the webhook is for (organisation_id).",
            details={"field": "organisation_id"},
        )
    org = session.get(Organisation, organisation_id)
    if org is None or org.kind != OrganisationKind.client:
        raise ValidationFailed("Webhooks belong to a client organisation.")
    return org.id


def create(
    *,
    session: Session,
    actor: User,
    box: SecretBox,
    rules: ReceiverRules,
    url: str,
    events_: Sequence[str],
    description: str = "",
    organisation_id: int | None = None,
    ip: str | None = None,
) -> Created:
    """Register a URL for events; the URL must pass the address rules; returns the secret once."""
    org_id = _owner_organisation(session, actor, organisation_id)
    chosen = _clean_events(events_)
    clean_url = check_receiver_url(url.strip(), rules)
    count = session.scalar(
        select(func.count(WebhookSubscription.id)).where(
            WebhookSubscription.organisation_id == org_id
        )
    )
    if (count or 0) >= MAX_PER_ORGANISATION:
        raise Conflict(f"An organisation can have at most {MAX_PER_ORGANISATION} webhooks.")
    secret = new_secret()
    now = utcnow()
    sub = WebhookSubscription(
        organisation_id=org_id,
        url=clean_url,
        description=_clean_description(description),
        events=chosen,
        is_active=True,
        secret_encrypted=box.encrypt(secret),
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    session.flush()
    emit(
        events.WebhookCreated(
            actor_user_id=actor.id,
            organisation_id=org_id,
            ip=ip,
            subject_type="webhook",
            subject_id=str(sub.id),
            url=redacted(clean_url),
            events=chosen,
        ),
        session=session,
    )
    return Created(sub, secret)


def get(*, session: Session, actor: User, webhook_id: int) -> WebhookSubscription:
    """Return a subscription the actor manages (404 otherwise)."""
    sub = session.get(WebhookSubscription, webhook_id)
    if sub is None or not policies.can_manage(actor, sub.organisation_id):
        raise NotFound(NOT_FOUND)
    return sub


def list_for(
    *,
    session: Session,
    actor: User,
    organisation_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[WebhookSubscription], int]:
    """Return the subscriptions the actor manages, newest first, and how many there are."""
    if not policies.uses_webhooks(actor):
        raise NotFound(NOT_FOUND)
    query = select(WebhookSubscription)
    if not is_operator(actor):
        query = query.where(WebhookSubscription.organisation_id == actor.organisation_id)
    elif organisation_id is not None:
        query = query.where(WebhookSubscription.organisation_id == organisation_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WebhookSubscription.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def update(
    *,
    session: Session,
    actor: User,
    sub: WebhookSubscription,
    rules: ReceiverRules,
    url: str | None = None,
    events_: Sequence[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
    version: int | None = None,
    ip: str | None = None,
) -> WebhookSubscription:
    """Change a subscription; a new URL is checked again; a stale ``version`` gets 409."""
    if not policies.can_manage(actor, sub.organisation_id):
        raise NotFound(NOT_FOUND)
    if version is not None and version != sub.version:
        raise Conflict(
            "This webhook was changed elsewhere; reload it.",
            details={"current_version": sub.version},
        )
    changes: dict[str, object] = {}
    if url is not None:
        clean = check_receiver_url(url.strip(), rules)
        if clean != sub.url:
            sub.url = clean
            changes["url"] = redacted(clean)
    if events_ is not None:
        chosen = _clean_events(events_)
        if chosen != list(sub.events):
            sub.events = chosen
            changes["events"] = chosen
    if description is not None:
        text = _clean_description(description)
        if text != sub.description:
            sub.description = text
            changes["description"] = text
    if is_active is not None and is_active != sub.is_active:
        sub.is_active = is_active
        changes["is_active"] = is_active
    if not changes:
        return sub
    sub.version += 1
    sub.updated_at = utcnow()
    session.flush()
    emit(
        events.WebhookUpdated(
            actor_user_id=actor.id,
            organisation_id=sub.organisation_id,
            ip=ip,
            subject_type="webhook",
            subject_id=str(sub.id),
            changes=changes,
        ),
        session=session,
    )
    return sub


def delete(
    *, session: Session, actor: User, sub: WebhookSubscription, ip: str | None = None
) -> None:
    """Remove a subscription with its deliveries and their log (the audit log keeps the act)."""
    if not policies.can_manage(actor, sub.organisation_id):
        raise NotFound(NOT_FOUND)
    emit(
        events.WebhookDeleted(
            actor_user_id=actor.id,
            organisation_id=sub.organisation_id,
            ip=ip,
            subject_type="webhook",
            subject_id=str(sub.id),
            url=redacted(sub.url),
        ),
        session=session,
    )
    session.delete(sub)
    session.flush()


def client_organisations(*, session: Session, actor: User) -> list[Organisation]:
    """Return the organisations the actor may register webhooks for (forms)."""
    if is_operator(actor):
        query = select(Organisation).where(Organisation.kind == OrganisationKind.client)
    else:
        query = select(Organisation).where(Organisation.id == actor.organisation_id)
    return list(session.scalars(query.order_by(Organisation.name)))
