"""The vetting pipeline as operators and candidates see it, and an operator's decision.

Read models for the operator's board (counts per state, the funnel and its weeks), the candidate
list (filters, pages), a candidate's detail (profile summary and transition history) and the
candidate's own status; ``decide`` is an operator's decision, through ``pipeline.move`` (the one
state changer), with the work-sample project recorded when the candidate moves to that gate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import User
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.experts import pipeline, policies
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    ProfileDomain,
    ProfileLanguage,
    VettingState,
    VettingTransition,
)
from expertloop.text import clean
from expertloop.types import utcnow

S = VettingState
REASON_MAX = 2000
MAX_LIMIT = 200
# The gates the funnel counts: how many candidates ever reached each (in pipeline order).
FUNNEL: tuple[VettingState, ...] = pipeline.ORDER[1:]
# The decisions a candidate reads the reason of (the operator's other reasons are internal).
TOLD_REASONS = frozenset({S.rejected, S.paused})
# The board's columns: the pipeline's gates in order, then the states off the path.
COLUMNS: tuple[VettingState, ...] = (*pipeline.ORDER, S.paused, S.rejected, S.withdrawn)


def label(state: VettingState) -> str:
    """Return a state's name as a person writes it ("work sample")."""
    return state.value.replace("_", " ")


def _not_found() -> NotFound:
    return NotFound("Candidate not found.")


# --- Board -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    """How many candidates stand in one state now."""

    state: VettingState
    label: str
    count: int


@dataclass(frozen=True)
class FunnelStage:
    """How many candidates ever reached a gate, and the share of those who applied."""

    state: VettingState
    label: str
    reached: int
    percent_of_applied: float | None


@dataclass(frozen=True)
class WeekCounts:
    """The moves into each state during one week (Monday to Sunday, UTC)."""

    week_start: dt.date
    counts: dict[str, int]


@dataclass
class Board:
    """The operator's board: counts now, the funnel, and the moves per week."""

    counts: list[StateCount]
    total: int
    funnel: list[FunnelStage]
    weeks: list[WeekCounts]


def board(session: Session, *, actor: User, weeks: int = 12, today: dt.date | None = None) -> Board:
    """Return the board: candidates per state, the funnel and the last ``weeks`` weeks' moves."""
    if not policies.can_vet(actor):
        raise NotFound("Page not found.")
    weeks = max(1, min(weeks, 104))
    rows = session.execute(select(Candidate.state, func.count()).group_by(Candidate.state)).all()
    now_counts: dict[VettingState, int] = {state: int(n) for state, n in rows}
    counts = [StateCount(s, label(s), now_counts.get(s, 0)) for s in COLUMNS]

    reached_rows = session.execute(
        select(
            VettingTransition.to_state, func.count(func.distinct(VettingTransition.candidate_id))
        )
        .where(VettingTransition.to_state.in_(FUNNEL))
        .group_by(VettingTransition.to_state)
    ).all()
    reached: dict[VettingState, int] = {state: int(n) for state, n in reached_rows}
    applied = reached.get(S.applied, 0)
    funnel = [
        FunnelStage(
            s,
            label(s),
            reached.get(s, 0),
            round(100 * reached.get(s, 0) / applied, 1) if applied else None,
        )
        for s in FUNNEL
    ]

    today = today or utcnow().date()
    first = today - dt.timedelta(days=today.weekday()) - dt.timedelta(weeks=weeks - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    day = func.date(VettingTransition.at)
    daily = session.execute(
        select(day, VettingTransition.to_state, func.count())
        .where(VettingTransition.at >= since)
        .group_by(day, VettingTransition.to_state)
    ).all()
    buckets = [
        WeekCounts(first + dt.timedelta(weeks=i), {s.value: 0 for s in COLUMNS})
        for i in range(weeks)
    ]
    for when, state, n in daily:
        date = when if isinstance(when, dt.date) else dt.date.fromisoformat(str(when)[:10])
        index = (date - first).days // 7
        if 0 <= index < weeks:
            buckets[index].counts[state.value] += int(n)
    return Board(counts=counts, total=sum(now_counts.values()), funnel=funnel, weeks=buckets)


# --- Candidate list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateRow:
    """A candidate in the operator's list (contact data: operators only)."""

    id: int
    name: str
    email: str
    state: VettingState
    domain: str
    user_id: int | None
    state_changed_at: dt.datetime
    created_at: dt.datetime
    version: int


@dataclass
class CandidatePage:
    """A page of candidates and how many match in all."""

    items: list[CandidateRow]
    total: int
    limit: int
    offset: int


def _row(c: Candidate) -> CandidateRow:
    return CandidateRow(
        id=c.id,
        name=c.name,
        email=c.email,
        state=c.state,
        domain=c.domain,
        user_id=c.user_id,
        state_changed_at=c.state_changed_at,
        created_at=c.created_at,
        version=c.version,
    )


def list_candidates(
    session: Session,
    *,
    actor: User,
    state: VettingState | None = None,
    domain: str | None = None,
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> CandidatePage:
    """Return candidates (latest move first), filtered by state, domain and name or email."""
    if not policies.can_vet(actor):
        raise NotFound("Page not found.")
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    query = select(Candidate)
    if state is not None:
        query = query.where(Candidate.state == state)
    if domain:
        query = query.where(Candidate.domain == domain)
    term = search.strip().lower()
    if term:
        query = query.where(
            or_(
                func.lower(Candidate.name).contains(term, autoescape=True),
                Candidate.email.contains(term, autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Candidate.state_changed_at.desc(), Candidate.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return CandidatePage([_row(c) for c in rows], total, limit, offset)


# --- Candidate detail --------------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionView:
    """One move in a candidate's history: who decided, when, from what to what and why."""

    id: int
    from_state: VettingState | None
    to_state: VettingState
    actor_id: int | None
    actor_name: str
    reason: str
    at: dt.datetime


@dataclass
class ProfileSummary:
    """What the candidate told about themself (operators and the candidate only)."""

    headline: str
    years_experience: int
    country: str
    time_zone: str
    weekly_hours: int
    rate_minor: int | None
    rate_currency: str
    domains: list[tuple[str, str]]
    languages: list[tuple[str, str]]
    credentials: list[dict[str, Any]]
    education: list[dict[str, Any]]
    phone: str
    links: list[str]
    resume: str
    quality_score: float | None


@dataclass
class CandidateDetail:
    """A candidate for the operator: who, where they stand, what was decided, what may follow."""

    candidate: CandidateRow
    note: str
    source: str
    work_sample_project_id: int | None
    profile: ProfileSummary | None
    history: list[TransitionView]
    allowed: list[VettingState] = field(default_factory=list)


def get_candidate(session: Session, *, actor: User, candidate_id: int) -> Candidate:
    """Return a candidate for an operator; anyone else: ``NotFound``."""
    if not policies.can_vet(actor):
        raise _not_found()
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise _not_found()
    return candidate


def profile_summary(session: Session, user_id: int | None) -> ProfileSummary | None:
    """Return the profile of a candidate's account (None before they applied or filled it in)."""
    if user_id is None:
        return None
    profile = session.get(ExpertProfile, user_id)
    if profile is None:
        return None
    domains = session.execute(
        select(ProfileDomain.domain, ProfileDomain.specialty)
        .where(ProfileDomain.user_id == user_id)
        .order_by(ProfileDomain.domain, ProfileDomain.specialty)
    ).all()
    languages = session.execute(
        select(ProfileLanguage.language, ProfileLanguage.level)
        .where(ProfileLanguage.user_id == user_id)
        .order_by(ProfileLanguage.language)
    ).all()
    return ProfileSummary(
        headline=profile.headline,
        years_experience=profile.years_experience,
        country=profile.country,
        time_zone=profile.time_zone,
        weekly_hours=profile.weekly_hours,
        rate_minor=profile.rate_minor,
        rate_currency=profile.rate_currency,
        domains=[(d, s) for d, s in domains],
        languages=[(lang, level.value) for lang, level in languages],
        credentials=list(profile.credentials or []),
        education=list(profile.education or []),
        phone=profile.phone,
        links=list(profile.links or []),
        resume=profile.resume,
        quality_score=profile.quality_score,
    )


def history(session: Session, candidate_id: int) -> list[TransitionView]:
    """Return the candidate's moves, oldest first, with the deciders' names."""
    rows = pipeline.history(session, candidate_id)
    names = users_uc.names_by_id(
        session=session, user_ids={r.actor_id for r in rows if r.actor_id is not None}
    )
    return [
        TransitionView(
            id=r.id,
            from_state=r.from_state,
            to_state=r.to_state,
            actor_id=r.actor_id,
            actor_name=names.get(r.actor_id, "") if r.actor_id is not None else "the system",
            reason=r.reason,
            at=r.at,
        )
        for r in rows
    ]


def allowed_decisions(candidate: Candidate) -> list[VettingState]:
    """Return the states an operator may move the candidate to, in the board's order."""
    allowed = pipeline.TRANSITIONS[candidate.state]
    return [s for s in COLUMNS if s in allowed]


def detail(session: Session, *, actor: User, candidate_id: int) -> CandidateDetail:
    """Return a candidate's detail for an operator; anyone else: ``NotFound``."""
    candidate = get_candidate(session, actor=actor, candidate_id=candidate_id)
    return CandidateDetail(
        candidate=_row(candidate),
        note=candidate.note,
        source=candidate.source.value,
        work_sample_project_id=candidate.work_sample_project_id,
        profile=profile_summary(session, candidate.user_id),
        history=history(session, candidate.id),
        allowed=allowed_decisions(candidate),
    )


# --- Decision ----------------------------------------------------------------------------------


def decide(
    session: Session,
    *,
    actor: User,
    candidate_id: int,
    to: VettingState,
    reason: str,
    version: int | None,
    work_sample_project_id: int | None = None,
    ip: str | None = None,
) -> VettingTransition:
    """Move a candidate as an operator, with a reason; ``version`` is the one decided on.

    Moving to ``work_sample`` records the vetting project (``work_sample_project_id``, checked
    by the caller, which then staffs the candidate there: experts do not import projects).
    """
    if not policies.can_vet(actor):
        raise _not_found()
    candidate = session.scalar(
        select(Candidate).where(Candidate.id == candidate_id).with_for_update()
    )
    if candidate is None:
        raise _not_found()
    reason = clean(reason, field="Reason", max_length=REASON_MAX).strip()
    if version is not None and version != candidate.version:
        raise Conflict(
            "Someone else decided on this candidate meanwhile; reload to see where they stand.",
            details={"version": candidate.version, "state": candidate.state.value},
        )
    if not reason:
        raise ValidationFailed("Give a reason for the decision.", details={"field": "reason"})
    if to == S.work_sample and to in pipeline.TRANSITIONS[candidate.state]:
        if work_sample_project_id is None:
            raise ValidationFailed(
                "Choose the vetting project the work sample is done on.",
                details={"field": "project_id"},
            )
        if candidate.user_id is None:
            raise Conflict(
                "This candidate has no account yet; they must apply before a work sample.",
                details={"state": candidate.state.value},
            )
        candidate.work_sample_project_id = work_sample_project_id
    return pipeline.move(
        session=session,
        actor=actor,
        candidate=candidate,
        to=to,
        reason=reason,
        expected_version=version,
        ip=ip,
    )


# --- The candidate's own view ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One gate of the step indicator: done, the current one, or still to come."""

    state: VettingState
    label: str
    status: str  # "done" | "skipped" | "current" | "upcoming"


@dataclass(frozen=True)
class ToldReason:
    """A decision's reason the candidate is told (rejected or paused), with when."""

    state: VettingState
    label: str
    reason: str
    at: dt.datetime


@dataclass
class MyVetting:
    """Where a candidate stands, what comes next and why the operator decided as they did."""

    candidate_id: int
    state: VettingState
    label: str
    since: dt.datetime
    next_step: str
    steps: list[Step]
    reasons: list[ToldReason]
    domain: str
    work_sample_project_id: int | None
    # What the candidate can do now: "assessment", "interview", "work_sample" or None.
    action: str | None
    version: int = 1
    can_withdraw: bool = False


_ACTIONS = {S.assessment: "assessment", S.interview: "interview", S.work_sample: "work_sample"}


def _passed(state: VettingState, reached: set[VettingState]) -> str:
    # An operator may skip a gate (with a reason): it is shown as skipped, not as done.
    return "done" if state in reached else "skipped"


def _ahead(index: int, current: int) -> str:
    return "current" if index == current else "upcoming"


def _steps(session: Session, candidate: Candidate) -> list[Step]:
    reached = set(
        session.scalars(
            select(VettingTransition.to_state).where(VettingTransition.candidate_id == candidate.id)
        )
    )
    reached.add(S.invited)  # everyone was invited (or referred), whatever the first row says
    if candidate.state in pipeline.ORDER:
        current = pipeline.ORDER.index(candidate.state)
        return [
            Step(s, label(s), _passed(s, reached) if i < current else _ahead(i, current))
            for i, s in enumerate(pipeline.ORDER)
        ]
    # Off the path (paused, rejected, withdrawn): none is current; the gates up to the furthest
    # one reached are done (or were skipped), the rest still to come.
    furthest = max(i for i, s in enumerate(pipeline.ORDER) if s in reached)
    return [
        Step(s, label(s), _passed(s, reached) if i <= furthest else "upcoming")
        for i, s in enumerate(pipeline.ORDER)
    ]


def my_status(session: Session, user: User) -> MyVetting | None:
    """Return the caller's own vetting status, or None when they are not a candidate."""
    candidate = session.scalar(select(Candidate).where(Candidate.user_id == user.id))
    if candidate is None:
        return None
    told = session.scalars(
        select(VettingTransition)
        .where(
            VettingTransition.candidate_id == candidate.id,
            VettingTransition.to_state.in_(TOLD_REASONS),
        )
        .order_by(VettingTransition.id.desc())
        .limit(20)
    )
    return MyVetting(
        candidate_id=candidate.id,
        state=candidate.state,
        label=label(candidate.state),
        since=candidate.state_changed_at,
        next_step=pipeline.NEXT_STEP[candidate.state],
        steps=_steps(session, candidate),
        reasons=[ToldReason(t.to_state, label(t.to_state), t.reason, t.at) for t in told],
        domain=candidate.domain,
        work_sample_project_id=(
            candidate.work_sample_project_id if candidate.state == S.work_sample else None
        ),
        action=_ACTIONS.get(candidate.state),
        version=candidate.version,
        can_withdraw=(candidate.state, S.withdrawn) in pipeline.BY_CANDIDATE,
    )


def withdraw(
    session: Session, *, user: User, reason: str, version: int | None, ip: str | None = None
) -> VettingTransition:
    """Withdraw the caller's own application (their move; a reason is optional)."""
    candidate = session.scalar(
        select(Candidate).where(Candidate.user_id == user.id).with_for_update()
    )
    if candidate is None:
        raise NotFound("You are not in the vetting pipeline.")
    reason = clean(reason, field="Reason", max_length=REASON_MAX).strip()
    if version is not None and version != candidate.version:
        raise Conflict(
            "Your application changed meanwhile; reload to see where you stand.",
            details={"version": candidate.version, "state": candidate.state.value},
        )
    return pipeline.move(
        session=session,
        actor=user,
        candidate=candidate,
        to=S.withdrawn,
        reason=reason,
        expected_version=version,
        ip=ip,
    )
