"""Isolation cases for outreach: invitations are the operators' (listing a candidate's links,
revoking one, inviting: 404 to clients, experts and reviewers); the public link routes answer
404 to anyone without the token, an invitation's id is not its token; and nothing of B's
invitation changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.experts import invitations
from expertloop.experts.models import Invitation
from tests.factories import World
from tests.isolation import Probe, b_side, b_state, isolation_case


class _Quiet:
    """A mailer that sends nothing (B's invitation needs no mail here)."""

    def send(self, message: object) -> bool:
        return True


@b_side
def _b_invitation(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """An operator invited someone for B's programme; the link is pending."""
    result = invitations.invite(
        db,
        actor=world.operator,
        email="b-invitee@tests.expertloop.org",
        name="B's invitee",
        settings=app.state.settings,
        mailer=_Quiet(),
    )
    db.commit()
    return {
        "b_invited_candidate_id": result.candidate_id,
        "b_invitation_id": result.invitation_id,
    }


@b_state("outreach")
def _outreach(db: Session, world: World) -> Any:
    rows = db.execute(
        select(Invitation.id, Invitation.used_at, Invitation.revoked_at, Invitation.expires_at)
    ).all()
    return sorted(tuple(r) for r in rows)


JOIN = {
    "name": "Hijacker",
    "password": "a-long-enough-password",
    "profile": {"domains": [{"domain": "law", "specialty": ""}]},
}


@isolation_case("outreach")
def _outreach_probes(w: World) -> list[Probe]:
    links = "/api/v1/candidates/{b_invited_candidate_id}/invitations"
    return [
        Probe("POST", "/api/v1/candidates/invitations", {"email": "planted@tests.expertloop.org"}),
        Probe("GET", links),
        Probe("POST", "/api/v1/invitations/{b_invitation_id}/revoke"),
        # The id is not the token: the public routes know nothing by it.
        Probe("GET", "/api/v1/invitations/{b_invitation_id}"),
        Probe("POST", "/api/v1/invitations/{b_invitation_id}/accept", JOIN),
        Probe("GET", "/candidates/invite"),
        Probe("POST", "/candidates/invite"),
        Probe("GET", "/candidates/{b_invited_candidate_id}/invitations"),
        Probe("POST", "/invitations/{b_invitation_id}/revoke"),
        Probe("GET", "/join/{b_invitation_id}"),
        Probe("POST", "/join/{b_invitation_id}"),
    ]
