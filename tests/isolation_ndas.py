"""Isolation cases for project NDAs: B's project has an NDA that B's expert accepted; outsiders
get 404 on every NDA route of B's project, and publish or accept nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.projects import ndas
from expertloop.projects.models import NdaAcceptance, ProjectNda
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case


@b_side
def _b_nda(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """B's client sets an NDA on B's project; B's expert accepts it (and keeps working)."""
    nda = ndas.publish_nda(
        session=db, actor=world.client_b, project_id=world.project_b.id, text="B's secret NDA"
    )
    ndas.accept_nda(
        session=db,
        actor=world.expert_b,
        project_id=world.project_b.id,
        version=nda.version,
        ip="198.51.100.2",
        user_agent="b-browser",
    )
    db.commit()
    return {"b_nda_version": nda.version}


@b_state("ndas")
def _ndas(db: Session, world: World) -> Any:
    p = world.project_b.id
    return (
        db.scalar(select(func.count(ProjectNda.id)).where(ProjectNda.project_id == p)),
        db.scalar(select(func.count(NdaAcceptance.id)).where(NdaAcceptance.project_id == p)),
    )


@isolation_case("ndas")
def _nda_routes(w: World) -> list[Probe]:
    p = w.project_b.id
    return [
        Probe("GET", f"/api/v1/projects/{p}/nda"),
        Probe("PUT", f"/api/v1/projects/{p}/nda", {"text": "Planted by A"}),
        Probe("POST", f"/api/v1/projects/{p}/nda/accept", {"version": "{b_nda_version}"}),
        Probe("GET", f"/api/v1/projects/{p}/nda/acceptances"),
        Probe("GET", f"/projects/{p}/nda"),
        Probe("POST", f"/projects/{p}/nda", None),
        Probe("POST", f"/projects/{p}/nda/accept", None),
    ]
