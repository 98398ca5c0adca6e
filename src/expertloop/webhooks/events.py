"""Audit events of webhooks (none of them is itself a webhook source: no delivery loops)."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class WebhookCreated(Event):
    kind: str = field(init=False, default="webhooks.created")
    url: str
    events: list[str]


@dataclass(frozen=True, kw_only=True)
class WebhookUpdated(Event):
    kind: str = field(init=False, default="webhooks.updated")
    changes: dict[str, object]


@dataclass(frozen=True, kw_only=True)
class WebhookDeleted(Event):
    kind: str = field(init=False, default="webhooks.deleted")
    url: str


@dataclass(frozen=True, kw_only=True)
class WebhookRedelivered(Event):
    kind: str = field(init=False, default="webhooks.redelivered")
    subscription_id: int
    event_type: str
