"""Referral links: an approved expert invites a peer by email and follows where they stand.

A referral is an invitation of kind ``referral`` made through ``experts.invitations.invite``
(same link, same idempotency on the address), with the candidate's ``referrer_user_id`` set to
the expert: the referral bonus (payments) reads it. Only approved experts and reviewers refer;
each may have at most ``MAX_PENDING`` referrals still waiting to accept. An address already known
(invited, in the pipeline or with an account) is not taken over: its referrer stays who it was.

What the referrer sees of their referrals is the address they typed and a coarse state
(invited, applied, approved, closed: ``REFERRAL_STATES``), nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.errors import Conflict, NotFound
from expertloop.experts import pipeline
from expertloop.experts.invitations import Outcome, invite
from expertloop.experts.models import Candidate, InvitationKind, VettingState
from expertloop.mail import Mailer
from expertloop.settings import Settings

MAX_PENDING = 20
REFERRERS = frozenset({Role.expert, Role.reviewer})


def can_refer(session: Session, user: User) -> bool:
    """Tell whether the user may refer peers (an active, approved expert or reviewer)."""
    return (
        user.is_active
        and user.role in REFERRERS
        and pipeline.state_of_user(session, user.id) == VettingState.approved
    )


def pending_count(session: Session, user_id: int) -> int:
    """Return how many of the user's referrals have not accepted yet."""
    return int(
        session.scalar(
            select(func.count()).where(
                Candidate.referrer_user_id == user_id,
                Candidate.state == VettingState.invited,
                Candidate.user_id.is_(None),
            )
        )
        or 0
    )


PublicOutcome = Literal["sent", "known", "failed"]
KNOWN_MESSAGE = "This address is known to us already; no invitation was sent."


@dataclass
class ReferralResult:
    """What referring one address did, as the referrer may see it.

    ``outcome`` is ``sent`` (a new address: invited, mailed), ``known`` (an address we have
    already in any way: invited, in the pipeline, with an account; one message for all, so a
    referrer cannot tell which) or ``failed`` (bad input). ``candidate_id`` is set only when
    sent (the referrer's own referral); the link is never here (mail only).
    """

    email: str
    outcome: PublicOutcome
    message: str
    mailed: bool = False
    candidate_id: int | None = None


def refer(
    session: Session,
    *,
    actor: User,
    email: str,
    settings: Settings,
    name: str = "",
    mailer: Mailer | None = None,
    ip: str | None = None,
) -> ReferralResult:
    """Invite a peer as ``actor``'s referral; the result never carries the link (mail only).

    Refused (``NotFound``) unless the actor may refer; ``Conflict`` at ``MAX_PENDING`` waiting
    referrals. Only a new address is invited: any address already known is reported ``known``
    (the same message whatever we know), gets no mail or fresh link, and is not attributed to
    the actor.
    """
    if not can_refer(session, actor):
        raise NotFound("Only approved experts refer peers.")
    if pending_count(session, actor.id) >= MAX_PENDING:
        raise Conflict(
            f"You have {MAX_PENDING} referrals waiting to accept; invite more once some of them "
            "have applied.",
            details={"max_pending": MAX_PENDING},
        )
    if email.strip().lower() == actor.email:
        raise Conflict("That is your own address.", details={"field": "email"})
    result = invite(
        session,
        actor=actor,
        email=email,
        name=name,
        settings=settings,
        mailer=mailer,
        kind=InvitationKind.referral,
        referrer=actor,
        create_only=True,
        ip=ip,
    )
    if result.outcome == Outcome.failed:
        return ReferralResult(email=result.email, outcome="failed", message=result.message)
    if result.outcome == Outcome.invited:
        message = "Invitation sent." if result.mailed else "Invited; the mail could not be sent."
        return ReferralResult(
            email=result.email,
            outcome="sent",
            message=message,
            mailed=result.mailed,
            candidate_id=result.candidate_id,
        )
    return ReferralResult(email=result.email, outcome="known", message=KNOWN_MESSAGE)


ReferralState = Literal["invited", "applied", "approved", "closed"]

# What a referrer sees of where their referral stands: coarse on purpose (whether a peer was
# rejected, or is in an assessment or interview, is between them and the operators).
REFERRAL_STATES: dict[VettingState, ReferralState] = {
    VettingState.invited: "invited",
    VettingState.applied: "applied",
    VettingState.assessment: "applied",
    VettingState.interview: "applied",
    VettingState.work_sample: "applied",
    VettingState.approved: "approved",
    VettingState.rejected: "closed",
    VettingState.withdrawn: "closed",
    VettingState.paused: "closed",
}
REFERRAL_LABELS: dict[ReferralState, str] = {
    "invited": "invited",
    "applied": "applied, in vetting",
    "approved": "approved",
    "closed": "closed",
}


@dataclass(frozen=True)
class ReferralView:
    """One of the caller's referrals: the address they typed and, coarsely, where they stand."""

    email: str
    state: ReferralState
    label: str
    invited_at: dt.datetime


def my_referrals(session: Session, *, actor: User, limit: int = 200) -> list[ReferralView]:
    """Return the caller's referrals, newest first (anyone may ask; most have none).

    The state is coarse (``REFERRAL_STATES``): invited, applied (in vetting), approved, closed.
    """
    rows = session.execute(
        select(Candidate.email, Candidate.state, Candidate.created_at)
        .where(Candidate.referrer_user_id == actor.id)
        .order_by(Candidate.created_at.desc(), Candidate.id.desc())
        .limit(max(1, min(limit, 1000)))
    ).all()
    views = []
    for e, s, at in rows:
        state = REFERRAL_STATES.get(s, "closed")
        views.append(
            ReferralView(email=e, state=state, label=REFERRAL_LABELS[state], invited_at=at)
        )
    return views
