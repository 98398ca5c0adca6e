"""Isolation cases for the model-led interview, and the builders the interview tests share.

B's side: a candidate (not one of A's users) at the interview stage with an interview under way
(a question asked, an answer given) on guide version 1. Outsiders (A's client, expert
and reviewer) get 404 on every interview and guide route with an id, see none of it, and change
nothing.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.experts import interview_guides
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    Interview,
    InterviewStatus,
    InterviewTurn,
    InvitationKind,
    ProfileDomain,
    TurnRole,
    VettingState,
)
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm.hub import ModelHub
from expertloop.llm.models import ModelEndpoint
from tests.factories import World, make_user
from tests.isolation import Probe, b_side, b_state, isolation_case

_names = itertools.count(1)

SCORING_JSON = json.dumps(
    {
        "criteria": [
            {"key": "knowledge", "score": 4, "reason": "Named the covenant tests precisely."},
            {"key": "reasoning", "score": 5, "reason": "Weighed both refinancing options."},
            {"key": "clarity", "score": 3, "reason": "Long-winded in places."},
            {"key": "candour", "score": 4, "reason": "Said where data was missing."},
        ],
        "overall": 4,
        "summary": "A strong corporate-finance candidate.",
    }
)


def interview_model(
    db: Session, hub: ModelHub, *, answers: dict[str, str] | None = None, name: str | None = None
) -> ModelEndpoint:
    """Add a shared scripted model and make it the newest guide's interviewer.

    By default it asks "Scripted answer to: <the last user message>" and scores with
    ``SCORING_JSON`` (the scoring request ends with "Score the interview now.").
    """
    endpoint = endpoints_uc.add_endpoint(
        session=db,
        actor=None,
        box=hub.box,
        policy=hub.runtime.policy,
        name=name or f"Interviewer {next(_names)}",
        provider="scripted",
        model_id="scripted-interviewer",
        options={
            "answers": answers if answers is not None else {"Score the interview": SCORING_JSON}
        },
    )
    guide = interview_guides.ensure_default(db)
    guide.endpoint_id = endpoint.id
    db.flush()
    return endpoint


def make_candidate(
    db: Session,
    *,
    state: VettingState = VettingState.interview,
    domain: str = "finance",
    resume: str = "Twelve years in corporate finance: FP&A lead at a listed retailer.",
) -> tuple[User, Candidate]:
    """Create an expert user who applied and stands at ``state``, with a profile."""
    user = make_user(db, Role.expert)
    candidate = Candidate(
        email=user.email,
        name=user.name,
        user_id=user.id,
        state=state,
        domain=domain,
        source=InvitationKind.operator,
    )
    db.add(candidate)
    db.add(
        ExpertProfile(
            user_id=user.id,
            headline="Head of FP&A",
            years_experience=12,
            resume=resume,
            phone="+44 20 7946 0000",
            vetting_state=state,
        )
    )
    db.flush()
    db.add(ProfileDomain(user_id=user.id, domain=domain, specialty="corporate_finance"))
    db.flush()
    return user, candidate


@b_side
def _b_interview(db: Session, app: Any, world: World, ids: dict[str, Any]) -> dict[str, Any]:
    """B's candidate has an interview under way (a question asked and answered)."""
    interview_model(db, app.state.hub, name="B-side interviewer")
    _user, candidate = make_candidate(db, resume="B's confidential résumé")
    guide = interview_guides.ensure_default(db)
    interview = Interview(
        candidate_id=candidate.id,
        guide_id=guide.id,
        endpoint_id=guide.endpoint_id,
        status=InterviewStatus.in_progress,
    )
    db.add(interview)
    db.flush()
    db.add_all(
        [
            InterviewTurn(
                interview_id=interview.id,
                seq=1,
                role=TurnRole.interviewer,
                text="B's confidential interview question",
            ),
            InterviewTurn(
                interview_id=interview.id,
                seq=2,
                role=TurnRole.candidate,
                text="B's confidential interview answer",
            ),
        ]
    )
    db.commit()
    return {
        "b_interview_id": interview.id,
        "b_candidate_id": candidate.id,
        "b_guide_id": guide.id,
    }


@b_state("interviews")
def _interviews(db: Session, world: World) -> Any:
    interviews = db.scalars(select(Interview).order_by(Interview.id)).all()
    turns = db.scalars(select(InterviewTurn).order_by(InterviewTurn.id)).all()
    guides = db.scalars(select(interview_guides.InterviewGuide.version)).all()
    return (
        [(i.id, i.status, i.suggested_score, i.scoring_raw, i.version) for i in interviews],
        [(t.id, t.seq, t.text) for t in turns],
        sorted(guides),
    )


@isolation_case("interviews")
def _interview_probes(w: World) -> list[Probe]:
    iv = "/api/v1/interviews/{b_interview_id}"
    guide = {
        "system_prompt": "hijacked",
        "scoring_prompt": "hijacked",
        "rubric": [{"key": "x", "title": "X", "weight": 1}],
        "question_count": 1,
    }
    return [
        Probe("GET", iv),
        Probe("POST", f"{iv}/questions"),
        Probe("POST", f"{iv}/questions/stream"),
        Probe("POST", f"{iv}/answers", {"question_seq": 1, "text": "planted"}),
        Probe("POST", f"{iv}/scoring"),
        Probe("GET", "/api/v1/candidates/{b_candidate_id}/interviews"),
        Probe("GET", "/api/v1/interview-guides"),
        Probe("POST", "/api/v1/interview-guides", guide),
        Probe("GET", "/api/v1/interview-guides/{b_guide_id}"),
        Probe("GET", "/candidates/{b_candidate_id}/interview"),
        Probe("POST", "/candidates/{b_candidate_id}/interview/scoring"),
        Probe("GET", "/interview-guides"),
        Probe("POST", "/interview-guides"),
        Probe("GET", "/interview-guides/{b_guide_id}"),
    ]
