"""Pydantic shapes of the expert network's JSON API (in and out)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from expertloop.experts.interviews import InterviewView
from expertloop.experts.models import VettingState
from expertloop.text import CleanLine, CleanText

# --- Interview (guides, interviews, turns, suggested score) -----------------------------------


class RubricCriterionIn(BaseModel):
    """One criterion of an interview guide's rubric; the weight counts relative to the others."""

    key: CleanLine = Field(min_length=1, max_length=40, examples=["knowledge"])
    title: CleanLine = Field(min_length=1, max_length=120)
    description: CleanText = Field(default="", max_length=1000)
    weight: float = Field(gt=0, le=100)


class InterviewGuideIn(BaseModel):
    """A new version of the interview guide; ``base_version`` is the version it was edited from."""

    base_version: int | None = None
    system_prompt: CleanText = Field(min_length=1, max_length=20_000)
    scoring_prompt: CleanText = Field(min_length=1, max_length=20_000)
    rubric: list[RubricCriterionIn] = Field(min_length=1, max_length=12)
    question_count: int = Field(ge=1, le=20)
    endpoint_id: int | None = None


class InterviewGuideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    system_prompt: str
    scoring_prompt: str
    rubric: list[dict[str, Any]]
    question_count: int
    endpoint_id: int | None
    created_by_id: int | None
    created_at: dt.datetime


class InterviewGuideListOut(BaseModel):
    items: list[InterviewGuideOut]
    total: int
    limit: int
    offset: int


class InterviewTurnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    role: str
    text: str
    created_at: dt.datetime


class InterviewTurnOperatorOut(InterviewTurnOut):
    """A turn with its provenance (model, parameters, usage, run id): operators only."""

    provenance: dict[str, Any]


class AnswerIn(BaseModel):
    """The candidate's answer to the question numbered ``question_seq``."""

    question_seq: int = Field(ge=1)
    text: CleanText = Field(min_length=1, max_length=20_000)


class InterviewOut(BaseModel):
    """An interview as its candidate sees it: the transcript and what comes next, no score."""

    id: int
    status: str
    guide_version: int
    question_count: int
    answered: int
    next_action: Literal["question", "answer", "done"]
    pending_question_seq: int | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    version: int
    turns: list[InterviewTurnOut]

    @classmethod
    def from_view(cls, view: InterviewView) -> InterviewOut:
        pending = view.pending_question
        return cls(
            id=view.interview.id,
            status=view.interview.status.value,
            guide_version=view.guide.version,
            question_count=view.question_count,
            answered=view.answered,
            next_action=view.next_action,
            pending_question_seq=pending.seq if pending else None,
            started_at=view.interview.started_at,
            finished_at=view.interview.finished_at,
            version=view.interview.version,
            turns=[InterviewTurnOut.model_validate(t) for t in view.turns],
        )


class CriterionScoreOut(BaseModel):
    key: str
    title: str
    weight: float
    score: float | None
    reason: str


class InterviewOperatorOut(InterviewOut):
    """An interview for operators: the transcript with provenance and the model's suggestion."""

    candidate_id: int
    model_name: str
    turns: list[InterviewTurnOperatorOut]  # type: ignore[assignment]
    suggested_score: float | None
    suggested_by: str
    notice: str
    scoring_status: str
    scoring_error: str | None
    summary: str
    criteria: list[CriterionScoreOut]
    scoring_raw: str
    scoring_provenance: dict[str, Any]

    @classmethod
    def from_view(cls, view: InterviewView) -> InterviewOperatorOut:
        base = InterviewOut.from_view(view).model_dump(exclude={"turns"})
        return cls(
            **base,
            candidate_id=view.candidate.id,
            model_name=view.model_name,
            turns=[InterviewTurnOperatorOut.model_validate(t) for t in view.turns],
            suggested_score=view.interview.suggested_score,
            suggested_by=view.scored_by,
            notice=f"Suggested by {view.scored_by}; you decide.",
            scoring_status=view.scoring_status,
            scoring_error=view.scoring_error,
            summary=view.summary,
            criteria=[
                CriterionScoreOut.model_validate(c) for c in view.interview.suggested_reasons
            ],
            scoring_raw=view.interview.scoring_raw,
            scoring_provenance=view.interview.scoring_provenance,
        )


class QuestionOut(BaseModel):
    """The interviewer's question just asked (or already waiting), or why the model failed."""

    turn: InterviewTurnOut | None
    error: str | None
    interview: InterviewOut


# --- Matching (search, invite to a project) ---------------------------------------------------


class MatchSegmentOut(BaseModel):
    """A piece of the snippet; ``match`` marks the words the search text found."""

    model_config = ConfigDict(from_attributes=True)

    text: str
    match: bool


class MatchDomainOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    domain: str
    specialty: str
    label: str


class MatchLanguageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    language: str
    level: str


class MatchOut(BaseModel):
    """An expert in the results and why they matched; no contact data."""

    model_config = ConfigDict(from_attributes=True)

    user_id: int
    name: str
    headline: str
    country: str
    time_zone: str
    utc_offset_minutes: int
    weekly_hours: int
    years_experience: int
    rate_minor: int | None
    rate_currency: str
    quality_score: float | None
    vetting_state: str
    score: float = Field(description="Relevance to the search text (higher is better; 0 without)")
    domains: list[MatchDomainOut]
    languages: list[MatchLanguageOut]
    why: list[str]
    matched_in: list[str]
    snippet: list[MatchSegmentOut]


class MatchPageOut(BaseModel):
    """A page of results; pass ``next_cursor`` as ``after`` for the next one (None: last page)."""

    model_config = ConfigDict(from_attributes=True)

    items: list[MatchOut]
    next_cursor: str | None
    limit: int


class InviteToProjectIn(BaseModel):
    """Staff the chosen experts on a project as experts, in one action."""

    project_id: int
    user_ids: list[int] = Field(min_length=1, max_length=200)


class InviteOutcomeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    name: str
    reason: str = ""


class InviteToProjectOut(BaseModel):
    """Who was staffed, who was already on the project, and who was refused and why."""

    model_config = ConfigDict(from_attributes=True)

    project_id: int
    staffed: list[InviteOutcomeOut]
    skipped: list[InviteOutcomeOut]
    refused: list[InviteOutcomeOut]


# --- Vetting pipeline (board, candidates, decisions, the candidate's own status) ---------------


class StateCountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: str
    label: str
    count: int


class FunnelStageOut(BaseModel):
    """How many candidates ever reached a gate; ``percent_of_applied`` None before any applied."""

    model_config = ConfigDict(from_attributes=True)

    state: str
    label: str
    reached: int
    percent_of_applied: float | None


class WeekCountsOut(BaseModel):
    """The moves into each state in the week starting ``week_start`` (a Monday, UTC)."""

    model_config = ConfigDict(from_attributes=True)

    week_start: dt.date
    counts: dict[str, int]


class BoardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    counts: list[StateCountOut]
    total: int
    funnel: list[FunnelStageOut]
    weeks: list[WeekCountsOut]


class CandidateOut(BaseModel):
    """A candidate in the operators' list (contact data: operators only)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    state: str
    domain: str
    user_id: int | None
    state_changed_at: dt.datetime
    created_at: dt.datetime
    version: int


class CandidatePageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    items: list[CandidateOut]
    total: int
    limit: int
    offset: int


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_state: str | None
    to_state: str
    actor_id: int | None
    actor_name: str
    reason: str
    at: dt.datetime


class ProfileSummaryOut(BaseModel):
    """The candidate's profile as operators see it (with contact data and résumé)."""

    model_config = ConfigDict(from_attributes=True)

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


class CandidateDetailOut(BaseModel):
    """A candidate for operators: where they stand, their profile, history and next moves."""

    model_config = ConfigDict(from_attributes=True)

    candidate: CandidateOut
    note: str
    source: str
    work_sample_project_id: int | None
    profile: ProfileSummaryOut | None
    history: list[TransitionOut]
    allowed: list[str]


class DecisionIn(BaseModel):
    """An operator's decision: the next state, why, and the version decided on (stale: 409).

    Moving to ``work_sample`` needs ``project_id``: the vetting project the candidate is staffed
    on for the paid work sample.
    """

    to: VettingState
    reason: CleanText = Field(min_length=1, max_length=2000)
    version: int = Field(ge=1)
    project_id: int | None = Field(default=None, ge=1)


class DecisionOut(BaseModel):
    """The move made, and the candidate as they stand now."""

    transition: TransitionOut
    candidate: CandidateOut
    staffed_project_id: int | None


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: str
    label: str
    status: Literal["done", "skipped", "current", "upcoming"]


class ToldReasonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: str
    label: str
    reason: str
    at: dt.datetime


class MyVettingOut(BaseModel):
    """Where the caller stands in vetting, what comes next and the reasons they are told."""

    model_config = ConfigDict(from_attributes=True)

    candidate_id: int
    state: str
    label: str
    since: dt.datetime
    next_step: str
    steps: list[StepOut]
    reasons: list[ToldReasonOut]
    domain: str
    work_sample_project_id: int | None
    action: str | None
    version: int
    can_withdraw: bool


class WithdrawIn(BaseModel):
    """The candidate withdraws their application; ``version`` is the one they saw (stale: 409)."""

    reason: CleanText = Field(default="", max_length=2000)
    version: int = Field(ge=1)
