"""Isolation cases for seed imports and seeds: B's client imported seeds into B's project;
outsiders (A's client, expert and reviewer) get 404 for all of it and change nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.datasets.models import ImportStatus, Seed, SeedImport
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case


@b_side
def _b_import(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """An imported file of B's with one seed nobody picked up yet."""
    row = SeedImport(
        project_id=world.project_b.id,
        organisation_id=world.org_b.id,
        filename="b-secret-seeds.jsonl",
        format="jsonl",
        content_sha256="b" * 64,
        size_bytes=100,
        status=ImportStatus.imported,
        rows_total=1,
        rows_imported=1,
        created_by_id=world.client_b.id,
    )
    db.add(row)
    db.flush()
    seed = Seed(
        project_id=world.project_b.id,
        import_id=row.id,
        line=1,
        title="B's secret problem",
        statement="B's confidential statement",
        prompts=["B's confidential step prompt"],
    )
    db.add(seed)
    db.commit()
    return {"b_import_id": row.id, "b_seed_id": seed.id}


@b_state("imports")
def _imports(db: Session, world: World) -> Any:
    db.expire_all()
    rows = db.scalars(select(SeedImport).where(SeedImport.organisation_id == world.org_b.id))
    seeds = db.scalars(select(Seed).where(Seed.project_id == world.project_b.id))
    return (
        sorted((r.id, r.status.value, r.rows_imported, r.content_sha256) for r in rows),
        sorted((s.id, s.picked_by_id, s.problem_set_id) for s in seeds),
    )


@isolation_case("imports")
def _imports_probes(w: World) -> list[Probe]:
    p = w.project_b.id
    return [
        Probe("GET", f"/api/v1/projects/{p}/imports"),
        Probe("POST", f"/api/v1/projects/{p}/imports?filename=s.jsonl"),
        Probe("GET", "/api/v1/imports/{b_import_id}"),
        Probe("GET", f"/api/v1/projects/{p}/seeds"),
        Probe("GET", f"/api/v1/projects/{p}/seeds?available=true"),
        Probe("GET", "/api/v1/seeds/{b_seed_id}"),
        Probe("POST", "/api/v1/seeds/{b_seed_id}/pick-up"),
        Probe("GET", f"/projects/{p}/imports"),
        Probe("POST", f"/projects/{p}/imports"),
        Probe("GET", "/imports/{b_import_id}/card"),
        Probe("POST", "/seeds/{b_seed_id}/pick-up"),
    ]
