"""Isolation cases for live exports: B's project has an accepted problem set; outsiders get 404."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.llm.models import ModelEndpoint
from expertloop.workbench.models import ProblemSet, Status
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case
from tests.snapshot_data import accepted_problem_set


@b_side
def _b_accepted(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """An accepted problem set on B's project (what a live export of it would stream)."""
    endpoint = db.get(ModelEndpoint, ids["b_endpoint_id"])
    assert endpoint is not None
    ps = accepted_problem_set(
        db, world.project_b, world.expert_b, world.operator, endpoint, title="B's accepted secret"
    )
    db.commit()
    return {"b_accepted_problem_set_id": ps.id}


@b_state("accepted problem sets")
def _accepted(db: Session, world: World) -> Any:
    return sorted(
        (ps.id, ps.status.value, ps.version)
        for ps in db.scalars(
            select(ProblemSet).where(
                ProblemSet.project_id == world.project_b.id, ProblemSet.status == Status.accepted
            )
        )
    )


@isolation_case("live exports")
def _export_probes(w: World) -> list[Probe]:
    p = w.project_b.id
    return [
        Probe("GET", f"/api/v1/projects/{p}/export?format=openai-sft"),
        Probe("GET", f"/api/v1/projects/{p}/export?format=iterations"),
        Probe("GET", f"/api/v1/projects/{p}/export?format=errors&domain=finance"),
    ]
