"""Isolation cases for dataset snapshots: B's client built a snapshot; outsiders get 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.datasets import snapshots
from expertloop.datasets.folder import SnapshotFilters
from expertloop.datasets.models import Snapshot
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case


@b_side
def _b_snapshot(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """B's ready snapshot (built by the job right after the commit, as in the app)."""
    snapshot = snapshots.create_snapshot(
        session=db,
        queue=app.state.jobs,
        actor=world.client_b,
        project_id=world.project_b.id,
        filters=SnapshotFilters(),
    )
    db.commit()
    db.refresh(snapshot)
    assert snapshot.status.value == "ready", snapshot.error
    files = (snapshot.counts or {}).get("files") or [{"path": "README.md"}]
    return {
        "b_snapshot_id": snapshot.id,
        "b_snapshot_number": snapshot.number,
        "b_snapshot_file": files[0]["path"],
    }


@b_state("snapshots")
def _snapshots(db: Session, world: World) -> Any:
    return sorted(
        (s.id, s.number, s.status.value, s.total_bytes)
        for s in db.scalars(select(Snapshot).where(Snapshot.organisation_id == world.org_b.id))
    )


@isolation_case("snapshots")
def _snapshot_probes(w: World) -> list[Probe]:
    p = w.project_b.id
    snap = "/api/v1/snapshots/{b_snapshot_id}"
    tab = f"/projects/{p}/datasets"
    return [
        Probe("POST", f"/api/v1/projects/{p}/snapshots", {"filters": {}, "test_fraction": 0.1}),
        Probe("GET", f"/api/v1/projects/{p}/snapshots"),
        Probe("GET", snap),
        Probe("GET", f"{snap}/archive"),
        Probe("GET", f"{snap}/archive?format=tar"),
        Probe("GET", f"{snap}/files/manifest.json"),
        Probe("GET", f"{snap}/files/README.md"),
        Probe("GET", snap + "/files/{b_snapshot_file}"),
        Probe("GET", tab),
        Probe("POST", tab, {"test_percent": 10}),
        Probe("GET", tab + "/{b_snapshot_number}"),
        Probe("GET", tab + "/{b_snapshot_number}/row"),
        Probe("GET", tab + "/{b_snapshot_number}/status"),
    ]
