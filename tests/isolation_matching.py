"""Isolation cases for matching: an outsider can neither search experts nor staff one on B's
project through the invite action (404 both), and B's staffing stays as it was."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.projects.models import Staffing
from tests.factories import World
from tests.isolation import Probe, b_state, isolation_case


@b_state("matching_staffing")
def _staffing(db: Session, world: World) -> Any:
    rows = db.execute(
        select(Staffing.user_id, Staffing.role).where(Staffing.project_id == world.project_b.id)
    ).all()
    return sorted((r.user_id, r.role.value) for r in rows)


@isolation_case("matching")
def _matching_probes(w: World) -> list[Probe]:
    return [
        Probe("GET", "/api/v1/experts/search?q=expert"),
        Probe(
            "POST",
            "/api/v1/experts/invite-to-project",
            {"project_id": w.project_b.id, "user_ids": [w.expert_a.id]},
        ),
        Probe("GET", "/experts/search?q=expert"),
    ]
