"""Audit events of the datasets domain."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class SnapshotCreated(Event):
    kind: str = field(init=False, default="datasets.snapshot_created")
    project_id: int
    number: int


@dataclass(frozen=True, kw_only=True)
class SnapshotReady(Event):
    """A snapshot was built; webhooks subscribe to this kind (``datasets.snapshot_ready``)."""

    kind: str = field(init=False, default="datasets.snapshot_ready")
    project_id: int
    number: int


@dataclass(frozen=True, kw_only=True)
class SnapshotFailed(Event):
    kind: str = field(init=False, default="datasets.snapshot_failed")
    project_id: int
    number: int
    error: str = ""
