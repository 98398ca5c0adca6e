"""Isolation cases for the vetting pipeline: candidates are the operators' to see and decide on;
every other user (clients, experts, reviewers) gets 404 on the board, the list, a candidate's
detail and the decision routes (JSON and pages), and the candidate stays where they stood."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.experts.models import Candidate, InvitationKind, VettingState, VettingTransition
from tests.factories import World, make_user
from tests.isolation import Probe, b_side, b_state, isolation_case


@b_side
def _b_candidate(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """A candidate at the interview gate, waiting for the operator's decision."""
    user = make_user(db, Role.expert, name="B's candidate")
    candidate = Candidate(
        email=user.email,
        name=user.name,
        user_id=user.id,
        state=VettingState.interview,
        domain="finance",
        source=InvitationKind.operator,
        note="B's private operator note",
    )
    db.add(candidate)
    db.commit()
    return {"b_candidate_id": candidate.id}


@b_state("vetting")
def _vetting(db: Session, world: World) -> Any:
    candidates = db.execute(
        select(Candidate.id, Candidate.state, Candidate.version, Candidate.work_sample_project_id)
    ).all()
    moves = db.scalars(select(VettingTransition.id)).all()
    return sorted(tuple(c) for c in candidates), sorted(moves)


@isolation_case("vetting")
def _vetting_probes(w: World) -> list[Probe]:
    api = "/api/v1/candidates/{b_candidate_id}"
    page = "/candidates/{b_candidate_id}"
    decision = {"to": "approved", "reason": "hijacked", "version": 1}
    sample = {**decision, "to": "work_sample", "project_id": w.project_a.id}
    return [
        Probe("GET", "/api/v1/candidates"),
        Probe("GET", "/api/v1/candidates?state=interview"),
        Probe("GET", "/api/v1/candidates/board"),
        Probe("GET", api),
        Probe("POST", f"{api}/decision", decision),
        Probe("POST", f"{api}/decision", sample),
        Probe("GET", "/candidates"),
        Probe("GET", "/candidates?state=interview&q=candidate"),
        Probe("GET", page),
        Probe("POST", f"{page}/decision"),
    ]
