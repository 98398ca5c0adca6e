"""Audit events of model connections."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class EndpointAdded(Event):
    kind: str = field(init=False, default="models.endpoint_added")
    name: str = ""
    provider: str = ""


@dataclass(frozen=True, kw_only=True)
class EndpointUpdated(Event):
    kind: str = field(init=False, default="models.endpoint_updated")
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class EndpointRemoved(Event):
    kind: str = field(init=False, default="models.endpoint_removed")
    name: str = ""
