"""Referral links: an approved expert invites a peer by email and follows where they stand.

A referral is an invitation of kind ``referral`` made through ``experts.invitations.invite``
(same link, same idempotency on the address), with the candidate's ``referrer_user_id`` set to
the expert: the referral bonus (payments) reads it. Only approved experts and reviewers refer;
each may have at most ``MAX_PENDING`` referrals still waiting to accept. An address already known
(invited, in the pipeline or with an account) is not taken over: its referrer stays who it was.

What the referrer sees of their referrals is the address they typed and the state, nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.errors import Conflict, NotFound
from expertloop.experts import pipeline
from expertloop.experts.invitations import InviteResult, Outcome, invite
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


def refer(
    session: Session,
    *,
    actor: User,
    email: str,
    settings: Settings,
    name: str = "",
    mailer: Mailer | None = None,
    ip: str | None = None,
) -> InviteResult:
    """Invite a peer as ``actor``'s referral; the result never carries the link (mail only).

    Refused (``NotFound``) unless the actor may refer; ``Conflict`` at ``MAX_PENDING`` waiting
    referrals. An address already known is reported as such, and not attributed to the actor.
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
        ip=ip,
    )
    if result.outcome in (Outcome.already_invited, Outcome.in_pipeline, Outcome.has_account):
        result.message = "This address is known to us already; no invitation was sent."
        result.candidate_id = None
        result.invitation_id = None
        result.expires_at = None
    result.link = None  # the referrer's peer gets the link by mail, never the referrer
    return result


@dataclass(frozen=True)
class ReferralView:
    """One of the caller's referrals: the address they typed and where the person stands."""

    email: str
    state: VettingState
    label: str
    invited_at: dt.datetime


def my_referrals(session: Session, *, actor: User, limit: int = 200) -> list[ReferralView]:
    """Return the caller's referrals, newest first (anyone may ask; most have none)."""
    rows = session.execute(
        select(Candidate.email, Candidate.state, Candidate.created_at)
        .where(Candidate.referrer_user_id == actor.id)
        .order_by(Candidate.created_at.desc(), Candidate.id.desc())
        .limit(max(1, min(limit, 1000)))
    ).all()
    return [
        ReferralView(email=e, state=s, label=s.value.replace("_", " "), invited_at=at)
        for e, s, at in rows
    ]
