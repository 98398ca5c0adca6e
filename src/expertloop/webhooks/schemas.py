"""Pydantic shapes of webhooks for the API (the secret appears in one answer only)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from expertloop.text import CleanLine, CleanText
from expertloop.webhooks.models import DeliveryStatus

EventType = Literal["problem_set.accepted", "snapshot.ready", "job.failed"]


class WebhookIn(BaseModel):
    url: CleanLine = Field(min_length=1, max_length=2000, examples=["https://hooks.example.com/el"])
    events: list[EventType] = Field(min_length=1, max_length=10)
    description: CleanText = Field(default="", max_length=300)
    organisation_id: int | None = Field(
        default=None, description="Operators: the client organisation. Clients: leave unset."
    )


class WebhookPatch(BaseModel):
    version: int | None = Field(default=None, description="The version you edited (stale: 409).")
    url: CleanLine | None = Field(default=None, min_length=1, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=10)
    description: CleanText | None = Field(default=None, max_length=300)
    active: bool | None = None


class WebhookOut(BaseModel):
    """A subscription, never with its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    url: str
    description: str
    events: list[str]
    active: bool = Field(validation_alias=AliasChoices("is_active", "active"))
    version: int
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="The signing secret (whsec_…): shown in this answer only, store it now."
    )


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    at: dt.datetime
    duration_ms: int
    status_code: int | None
    error: str
    response_body: str = Field(description="The first 4 KB of the receiver's answer.")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscription_id: int
    event_type: str
    message_id: str = Field(description="The webhook-id header, the same on every attempt.")
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    payload: dict[str, Any]
    attempt_log: list[AttemptOut] = Field(default_factory=list)


class RedeliveryOut(BaseModel):
    delivery_id: int
    status: DeliveryStatus
    job_id: int | None = Field(description="The job that sends it (follow it on /jobs/{id}).")
