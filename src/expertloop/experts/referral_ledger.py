"""Who referred whom: the read the referral bonus (``payments.bonuses``) is paid from.

A candidate brought in through an expert's referral link carries ``referrer_user_id``; once they
apply they also have a user account. Payments never reads the experts tables itself: it asks
``referred_experts`` for the pairs. Ids only, no contact data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.experts.models import Candidate


@dataclass(frozen=True)
class Referral:
    """An expert (``referred_user_id``) who came in through ``referrer_user_id``'s link."""

    referrer_user_id: int
    referred_user_id: int
    candidate_id: int


def referred_experts(
    session: Session,
    *,
    referrer_ids: Iterable[int] | None = None,
    referred_ids: Iterable[int] | None = None,
) -> list[Referral]:
    """Return the referrals whose candidate has a referrer and a user account, oldest first.

    ``referrer_ids`` / ``referred_ids`` narrow the answer to those users (None: everyone). A
    candidate who names themself as their own referrer is left out: nobody earns for joining.
    """
    query = (
        select(Candidate.referrer_user_id, Candidate.user_id, Candidate.id)
        .where(
            Candidate.referrer_user_id.is_not(None),
            Candidate.user_id.is_not(None),
            Candidate.referrer_user_id != Candidate.user_id,
        )
        .order_by(Candidate.id)
    )
    if referrer_ids is not None:
        query = query.where(Candidate.referrer_user_id.in_(list(referrer_ids)))
    if referred_ids is not None:
        query = query.where(Candidate.user_id.in_(list(referred_ids)))
    return [
        Referral(referrer, referred, candidate_id)
        for referrer, referred, candidate_id in session.execute(query)
        if referrer is not None and referred is not None
    ]
