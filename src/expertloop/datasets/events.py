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


@dataclass(frozen=True, kw_only=True)
class SeedImportReceived(Event):
    kind: str = field(init=False, default="datasets.seed_import_received")
    project_id: int
    import_id: int
    format: str
    size_bytes: int


@dataclass(frozen=True, kw_only=True)
class SeedsImported(Event):
    kind: str = field(init=False, default="datasets.seeds_imported")
    project_id: int
    import_id: int
    rows: int


@dataclass(frozen=True, kw_only=True)
class SeedImportFailed(Event):
    kind: str = field(init=False, default="datasets.seed_import_failed")
    project_id: int
    import_id: int
    error_count: int
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class SeedPickedUp(Event):
    kind: str = field(init=False, default="datasets.seed_picked_up")
    project_id: int
    seed_id: int
    problem_set_id: int
