"""Pydantic shapes of the expert network's JSON API (in and out)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from expertloop.experts import assessments, question_banks
from expertloop.experts.interviews import InterviewView
from expertloop.experts.models import AttemptStatus, QuestionKind, VettingState
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


# --- Domain assessments (question banks, attempts, grading) -------------------------------------


class BankRulesIn(BaseModel):
    """A question bank's title and rules."""

    title: CleanLine = Field(min_length=1, max_length=200)
    time_limit_seconds: int = Field(default=1800, ge=60, le=4 * 3600)
    question_count: int = Field(default=5, ge=1, le=100)
    cooldown_hours: int = Field(default=72, ge=0, le=365 * 24)
    pass_percent: int = Field(default=70, ge=1, le=100)


class BankIn(BankRulesIn):
    """A new, empty bank for a taxonomy domain (one bank per domain)."""

    domain: CleanLine = Field(min_length=1, max_length=80, examples=["medicine"])


class BankPatchIn(BaseModel):
    """Changes to a bank's title and rules (attempts under way keep their deadline)."""

    title: CleanLine | None = Field(default=None, min_length=1, max_length=200)
    time_limit_seconds: int | None = Field(default=None, ge=60, le=4 * 3600)
    question_count: int | None = Field(default=None, ge=1, le=100)
    cooldown_hours: int | None = Field(default=None, ge=0, le=365 * 24)
    pass_percent: int | None = Field(default=None, ge=1, le=100)


class BankOut(BaseModel):
    """A bank, its rules and how many questions it has (active ones by kind)."""

    id: int
    domain: str
    domain_label: str
    title: str
    time_limit_seconds: int
    question_count: int
    cooldown_hours: int
    pass_percent: int
    active_questions: int
    total_questions: int
    by_kind: dict[str, int]

    @classmethod
    def from_summary(cls, s: question_banks.BankSummary) -> BankOut:
        b = s.bank
        return cls(
            id=b.id,
            domain=b.domain,
            domain_label=s.domain_label,
            title=b.title,
            time_limit_seconds=b.time_limit_seconds,
            question_count=b.question_count,
            cooldown_hours=b.cooldown_hours,
            pass_percent=b.pass_percent,
            active_questions=s.active,
            total_questions=s.total,
            by_kind=s.by_kind,
        )


class BankQuestionIn(BaseModel):
    """A question: ``choice`` needs ``choices`` and ``answer`` (the correct one's index from 0);
    ``numeric`` needs ``answer`` (and a ``tolerance``); ``free_text`` is graded by an operator."""

    kind: QuestionKind
    text: CleanText = Field(min_length=1, max_length=5000)
    choices: list[CleanLine] = Field(default_factory=list, max_length=8)
    answer: float | None = None
    tolerance: float = Field(default=0.0, ge=0)
    points: int = Field(default=1, ge=1, le=100)
    explanation: CleanText = Field(default="", max_length=5000)
    active: bool = True


class BankQuestionPatchIn(BaseModel):
    """Changes to a question; ``active: false`` takes it out of new draws."""

    kind: QuestionKind | None = None
    text: CleanText | None = Field(default=None, min_length=1, max_length=5000)
    choices: list[CleanLine] | None = Field(default=None, max_length=8)
    answer: float | None = None
    tolerance: float | None = Field(default=None, ge=0)
    points: int | None = Field(default=None, ge=1, le=100)
    explanation: CleanText | None = Field(default=None, max_length=5000)
    active: bool | None = None


class BankQuestionOut(BaseModel):
    """A question with its answer key (operators only)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    bank_id: int
    kind: QuestionKind
    text: str
    choices: list[str]
    answer: float | None
    tolerance: float
    points: int
    explanation: str
    active: bool


class BankDetailOut(BaseModel):
    bank: BankOut
    questions: list[BankQuestionOut]


class InstallOut(BaseModel):
    banks_created: int
    questions_created: int
    questions_updated: int
    banks: list[str]


class AssessmentItemOut(BaseModel):
    """A drawn question and the candidate's answer. For the candidate, ``awarded`` and
    ``grader_note`` stay null until graded; the key (``correct_*``, ``tolerance``,
    ``explanation``) only comes with an attempt that passed."""

    number: int
    question_id: int
    kind: QuestionKind
    text: str
    choices: list[str]
    points: int
    answered: bool
    choice: int | None
    value: float | None
    answer_text: str
    answer_id: int | None
    revealed: bool
    correct_choice: int | None
    correct_number: float | None
    tolerance: float | None
    explanation: str | None
    awarded: int | None
    grader_note: str | None

    @classmethod
    def from_item(cls, item: assessments.Item) -> AssessmentItemOut:
        return cls(
            number=item.number,
            question_id=item.question_id,
            kind=item.kind,
            text=item.text,
            choices=item.choices,
            points=item.points,
            answered=item.answered,
            choice=item.choice,
            value=item.value,
            answer_text=item.answer_text,
            answer_id=item.answer_id,
            revealed=item.revealed,
            correct_choice=item.correct_choice,
            correct_number=item.correct_number,
            tolerance=item.tolerance,
            explanation=item.explanation,
            awarded=item.awarded,
            grader_note=item.grader_note,
        )


class AttemptOut(BaseModel):
    """An attempt: the questions drawn, the server's deadline, and once graded the result."""

    id: int
    candidate_id: int
    status: AttemptStatus
    bank_title: str
    domain: str
    started_at: dt.datetime
    deadline_at: dt.datetime
    seconds_left: int
    submitted_at: dt.datetime | None
    timed_out: bool
    waiting_for_grading: bool
    graded_at: dt.datetime | None
    question_count: int
    answered: int
    score: int | None
    max_score: int
    percent: float | None
    passed: bool | None
    pass_percent: int
    feedback: str
    items: list[AssessmentItemOut]

    @classmethod
    def from_view(cls, view: assessments.AttemptView) -> AttemptOut:
        a = view.attempt
        return cls(
            id=a.id,
            candidate_id=view.candidate_id,
            status=a.status,
            bank_title=view.bank_title,
            domain=view.domain,
            started_at=a.started_at,
            deadline_at=a.deadline_at,
            seconds_left=view.seconds_left,
            submitted_at=a.submitted_at,
            timed_out=view.timed_out,
            waiting_for_grading=view.waiting_for_grading,
            graded_at=a.graded_at,
            question_count=len(view.items),
            answered=view.answered,
            score=a.score,
            max_score=a.max_score,
            percent=view.percent,
            passed=a.passed,
            pass_percent=view.pass_percent,
            feedback=a.feedback if view.revealed else "",
            items=[AssessmentItemOut.from_item(i) for i in view.items],
        )


class BankInfoOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    title: str
    question_count: int
    time_limit_seconds: int
    cooldown_hours: int
    pass_percent: int


class MyAssessmentOut(BaseModel):
    """The caller's assessment: the bank's rules, their attempts, and whether they may start
    (``blocked`` says why not; ``opens_at`` ends the cool-down)."""

    candidate_id: int
    state: str
    domain: str
    domain_label: str
    bank: BankInfoOut | None
    current: AttemptOut | None
    earlier: list[AttemptOut]
    can_start: bool
    opens_at: dt.datetime | None
    blocked: str | None

    @classmethod
    def from_view(cls, view: assessments.MyAssessment) -> MyAssessmentOut:
        return cls(
            candidate_id=view.candidate_id,
            state=view.state.value,
            domain=view.domain,
            domain_label=view.domain_label,
            bank=BankInfoOut.model_validate(view.bank) if view.bank else None,
            current=AttemptOut.from_view(view.current) if view.current else None,
            earlier=[AttemptOut.from_view(v) for v in view.earlier],
            can_start=view.can_start,
            opens_at=view.opens_at,
            blocked=view.blocked,
        )


class AssessmentAnswerIn(BaseModel):
    """An answer to one drawn question: ``choice`` (index from 0), ``number`` or ``text`` by the
    question's kind; null clears it. Saving again replaces the draft."""

    choice: int | None = Field(default=None, ge=0)
    number: float | None = None
    text: CleanText | None = Field(default=None, max_length=20_000)


class GradeIn(BaseModel):
    """An operator's grade of one free-text answer (0 up to the question's points)."""

    points: int = Field(ge=0, le=100)
    note: CleanText = Field(default="", max_length=5000)


class AnswerGradeIn(GradeIn):
    answer_id: int


class AttemptGradesIn(BaseModel):
    """Grades of an attempt's free-text answers, and the feedback the candidate reads."""

    grades: list[AnswerGradeIn] = Field(default_factory=list, max_length=100)
    feedback: CleanText | None = Field(default=None, max_length=5000)


class GradingQueueRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt_id: int
    candidate_id: int
    candidate_name: str
    candidate_email: str
    bank_title: str
    closed_at: dt.datetime
    timed_out: bool
    to_grade: int


# --- Outreach (invitations, the join form, profiles, referrals) --------------------------------


class InviteIn(BaseModel):
    """One address to invite; ``domain`` is a taxonomy key (optional)."""

    email: CleanLine = Field(min_length=1, max_length=320)
    name: CleanLine = Field(default="", max_length=200)
    domain: CleanLine = Field(default="", max_length=80)


class InviteBatchIn(BaseModel):
    """Several addresses at once (up to 500); ``resend`` sends fresh links to those pending."""

    items: list[InviteIn] = Field(min_length=1, max_length=500)
    resend: bool = False


class InviteOneIn(InviteIn):
    """One address; ``resend`` revokes a pending link and sends a fresh one."""

    resend: bool = False


class InviteResultOut(BaseModel):
    """What inviting one address did. ``link`` is shown this once (it is stored only hashed)."""

    model_config = ConfigDict(from_attributes=True)

    row: int | None
    email: str
    outcome: Literal[
        "invited", "reinvited", "already_invited", "in_pipeline", "has_account", "failed"
    ]
    message: str
    candidate_id: int | None
    invitation_id: int | None
    link: str | None
    expires_at: dt.datetime | None
    mailed: bool


class InviteBatchOut(BaseModel):
    """Every address's result, in order, and the counts per outcome."""

    results: list[InviteResultOut]
    counts: dict[str, int]


class InvitationOut(BaseModel):
    """One of a candidate's invitation links (never the token)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    candidate_id: int
    kind: str
    status: Literal["pending", "used", "expired", "revoked"]
    created_by_name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class InvitationSummaryOut(BaseModel):
    """A working link's invitation, for whoever holds the link."""

    model_config = ConfigDict(from_attributes=True)

    email: str
    name: str
    domain: str
    domain_label: str
    kind: str
    inviter_name: str
    expires_at: dt.datetime


class ProfileDomainIn(BaseModel):
    domain: CleanLine = Field(min_length=1, max_length=80)
    specialty: CleanLine = Field(default="", max_length=80)


class ProfileLanguageIn(BaseModel):
    language: CleanLine = Field(min_length=1, max_length=12, examples=["pt-BR"])
    level: CleanLine = Field(min_length=1, max_length=6, examples=["C1", "native"])


class ProfileIn(BaseModel):
    """An expert's profile. ``rate_minor`` is in minor units (cents) of ``rate_currency``.

    ``version`` (for PUT) is the version you edited: a stale one gets 409.
    """

    headline: CleanLine = Field(default="", max_length=200)
    domains: list[ProfileDomainIn] = Field(min_length=1, max_length=5)
    years_experience: int = Field(default=0, ge=0, le=70)
    country: CleanLine = Field(default="", max_length=2, examples=["DE"])
    time_zone: CleanLine = Field(default="", max_length=64, examples=["Europe/Berlin"])
    languages: list[ProfileLanguageIn] = Field(default_factory=list, max_length=12)
    weekly_hours: int = Field(default=0, ge=0, le=80)
    rate_minor: int | None = Field(default=None, ge=0, le=10_000_000)
    rate_currency: CleanLine = Field(default="USD", max_length=3)
    resume: CleanText = Field(default="", max_length=20_000)
    links: list[CleanLine] = Field(default_factory=list, max_length=10)
    phone: CleanLine = Field(default="", max_length=40)
    credentials: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    education: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    availability: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    version: int | None = Field(default=None, ge=1)


class JoinIn(BaseModel):
    """Accept an invitation: your name, a password (10+ characters) and your profile."""

    name: CleanLine = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    profile: ProfileIn


class JoinOut(BaseModel):
    """The new account is logged in (session cookie set); go on to ``next``."""

    user_id: int
    candidate_state: str
    csrf_token: str
    next: str


class ProfileOut(BaseModel):
    """An expert's whole profile, contact data included (the expert and operators only)."""

    user_id: int
    name: str
    email: str
    headline: str
    domains: list[ProfileDomainIn]
    years_experience: int
    country: str
    time_zone: str
    utc_offset_minutes: int
    languages: list[ProfileLanguageIn]
    weekly_hours: int
    rate_minor: int | None
    rate_currency: str
    resume: str
    links: list[str]
    phone: str
    credentials: list[dict[str, Any]]
    education: list[dict[str, Any]]
    availability: list[dict[str, Any]]
    vetting_state: str
    quality_score: float | None
    updated_at: dt.datetime
    version: int


class ReferralIn(BaseModel):
    """A peer to refer: their address and, if you wish, their name."""

    email: CleanLine = Field(min_length=1, max_length=320)
    name: CleanLine = Field(default="", max_length=200)


class ReferralResultOut(BaseModel):
    """What referring the address did (the link goes to them by mail, never to you)."""

    model_config = ConfigDict(from_attributes=True)

    email: str
    outcome: Literal["sent", "known", "failed"]
    message: str
    mailed: bool


class ReferralOut(BaseModel):
    """One of your referrals: the address you typed and, coarsely, where the person stands."""

    model_config = ConfigDict(from_attributes=True)

    email: str
    state: Literal["invited", "applied", "approved", "closed"]
    label: str
    invited_at: dt.datetime


class ReferralListOut(BaseModel):
    items: list[ReferralOut]
    can_refer: bool
    pending: int
    max_pending: int
