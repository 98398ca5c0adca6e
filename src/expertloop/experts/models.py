"""Expert network tables: candidates and their invitations, the vetting pipeline's transitions,
profiles (with domains and languages in rows of their own, for matching), domain assessments and
the model-led interview.

A *candidate* is one email address on its way through vetting; it gets a user account when the
invited person applies. Users made directly by an operator have no candidate row: the operator
vouched for them, so they count as approved.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.db import Base
from expertloop.types import UTCDateTime, utcnow


class VettingState(enum.StrEnum):
    """Where a candidate stands; ``experts.pipeline.TRANSITIONS`` says what may follow what."""

    invited = "invited"
    applied = "applied"
    assessment = "assessment"
    interview = "interview"
    work_sample = "work_sample"
    approved = "approved"
    rejected = "rejected"
    paused = "paused"
    withdrawn = "withdrawn"


class InvitationKind(enum.StrEnum):
    """Who asked the person to join: an operator, or an expert through their referral link."""

    operator = "operator"
    referral = "referral"


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=20, validate_strings=True)


class Candidate(Base):
    """One person (by email) in the vetting pipeline; ``user_id`` is set once they apply."""

    __tablename__ = "expert_candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Lower-cased and stripped: one candidate per address, so inviting again is a no-op.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), unique=True
    )
    state: Mapped[VettingState] = mapped_column(_enum(VettingState), index=True)
    state_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The domain the candidate is vetted in (a key of experts.taxonomy).
    domain: Mapped[str] = mapped_column(String(80), default="")
    source: Mapped[InvitationKind] = mapped_column(_enum(InvitationKind))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The expert whose referral link brought the candidate (earns the referral bonus).
    referrer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The vetting project the paid work sample is done on (staffing there as an expert).
    work_sample_project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(Text, default="")  # the operator's private note
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Invitation(Base):
    """A single-use, expiring link to apply; the link's token is stored only as its hash."""

    __tablename__ = "expert_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("expert_candidates.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[InvitationKind] = mapped_column(_enum(InvitationKind))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class VettingTransition(Base):
    """One move of a candidate from a state to the next: who decided, when and why (immutable)."""

    __tablename__ = "expert_vetting_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("expert_candidates.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[VettingState | None] = mapped_column(_enum(VettingState))
    to_state: Mapped[VettingState] = mapped_column(_enum(VettingState))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


# The profile columns matching filters on, after ``user_id`` (see ExpertProfile's indexes).
MATCH_COLUMNS = (
    "vetting_state",
    "country",
    "utc_offset_minutes",
    "weekly_hours",
    "rate_currency",
    "rate_minor",
    "quality_score",
)


class ExpertProfile(Base):
    """What an expert tells about themself. Contact data and résumé: operators and self only."""

    __tablename__ = "expert_profiles"
    # Matching's covering indexes (migration 0011): the filters read these instead of the wide
    # rows (the résumé sits before them); by user for the free-text join, by state for paging.
    __table_args__ = (
        Index("ix_expert_profiles_match_user", "user_id", *MATCH_COLUMNS),
        Index("ix_expert_profiles_match_state", "vetting_state", "user_id", *MATCH_COLUMNS[1:]),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    headline: Mapped[str] = mapped_column(String(200), default="")
    years_experience: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # [{"title": ..., "issuer": ..., "year": ...}] and [{"degree": ..., "institution": ..., ...}]
    credentials: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    education: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    country: Mapped[str] = mapped_column(String(2), default="", index=True)  # ISO 3166-1 alpha-2
    time_zone: Mapped[str] = mapped_column(String(64), default="")  # IANA name
    utc_offset_minutes: Mapped[int] = mapped_column(Integer, default=0, index=True)
    weekly_hours: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # [{"day": 0-6 (Monday 0), "start": "18:00", "end": "22:00"}] in the expert's time zone.
    availability: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rate_minor: Mapped[int | None] = mapped_column(Integer, index=True)
    rate_currency: Mapped[str] = mapped_column(String(3), default="USD")
    # Contact data: operators and the expert alone.
    phone: Mapped[str] = mapped_column(String(40), default="")
    resume: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Filled by the review-and-quality work (0..1); empty until then.
    quality_score: Mapped[float | None] = mapped_column(Float, index=True)
    # The candidate's vetting state copied here for matching filters (``approved`` for operator-
    # made users); kept in step by experts.pipeline.
    vetting_state: Mapped[VettingState] = mapped_column(
        _enum(VettingState), default=VettingState.approved, index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ProfileDomain(Base):
    """A domain (and optionally a specialty) an expert works in."""

    __tablename__ = "expert_profile_domains"
    __table_args__ = (
        UniqueConstraint("user_id", "domain", "specialty"),
        Index("ix_expert_profile_domains_domain_specialty", "domain", "specialty", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("expert_profiles.user_id", ondelete="CASCADE"), index=True
    )
    domain: Mapped[str] = mapped_column(String(80))
    specialty: Mapped[str] = mapped_column(String(80), default="")


class LanguageLevel(enum.StrEnum):
    """CEFR levels, plus native."""

    a1 = "A1"
    a2 = "A2"
    b1 = "B1"
    b2 = "B2"
    c1 = "C1"
    c2 = "C2"
    native = "native"


class ProfileLanguage(Base):
    """A language an expert speaks, with its level."""

    __tablename__ = "expert_profile_languages"
    __table_args__ = (
        UniqueConstraint("user_id", "language"),
        Index("ix_expert_profile_languages_language_user", "language", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("expert_profiles.user_id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(12))  # BCP 47, e.g. "en", "ar", "pt-BR"
    level: Mapped[LanguageLevel] = mapped_column(_enum(LanguageLevel))


class QuestionKind(enum.StrEnum):
    """How an assessment question is answered and graded."""

    choice = "choice"  # one of ``choices``; graded at once
    numeric = "numeric"  # a number within ``tolerance`` of ``answer``; graded at once
    free_text = "free_text"  # graded by a reviewer


class AssessmentBank(Base):
    """A domain's question bank and the rules of its assessment."""

    __tablename__ = "expert_assessment_banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    time_limit_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    question_count: Mapped[int] = mapped_column(Integer, default=5)
    cooldown_hours: Mapped[int] = mapped_column(Integer, default=72)
    pass_percent: Mapped[int] = mapped_column(Integer, default=70)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AssessmentQuestion(Base):
    """A question in a bank. ``answer`` holds the correct choice index or the number."""

    __tablename__ = "expert_assessment_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(
        ForeignKey("expert_assessment_banks.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[QuestionKind] = mapped_column(_enum(QuestionKind))
    text: Mapped[str] = mapped_column(Text)
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[float | None] = mapped_column(Float)
    tolerance: Mapped[float] = mapped_column(Float, default=0.0)
    points: Mapped[int] = mapped_column(Integer, default=1)
    # Shown to the candidate with their score (why the answer is what it is).
    explanation: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AttemptStatus(enum.StrEnum):
    """An attempt is open until submitted or past its deadline, then graded."""

    in_progress = "in_progress"
    submitted = "submitted"  # waiting for a reviewer to grade its free-text answers
    graded = "graded"
    expired = "expired"  # the deadline passed without a submission


class AssessmentAttempt(Base):
    """One sitting of a bank's assessment: the questions drawn, the server's deadline, the score."""

    __tablename__ = "expert_assessment_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("expert_candidates.id", ondelete="CASCADE"), index=True
    )
    bank_id: Mapped[int] = mapped_column(ForeignKey("expert_assessment_banks.id"), index=True)
    question_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[AttemptStatus] = mapped_column(_enum(AttemptStatus))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    graded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    score: Mapped[int | None] = mapped_column(Integer)
    max_score: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    feedback: Mapped[str] = mapped_column(Text, default="")


class AssessmentAnswer(Base):
    """A candidate's answer to one drawn question, and its grade."""

    __tablename__ = "expert_assessment_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "question_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("expert_assessment_attempts.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("expert_assessment_questions.id"))
    choice: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int | None] = mapped_column(Integer)  # None until graded
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    grader_note: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InterviewGuide(Base):
    """A version of the prompts that drive the model interviewer; editing makes a new version."""

    __tablename__ = "expert_interview_guides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    system_prompt: Mapped[str] = mapped_column(Text)  # asks the questions
    scoring_prompt: Mapped[str] = mapped_column(Text)  # suggests a score from the transcript
    # [{"key": ..., "title": ..., "description": ..., "weight": ...}]
    rubric: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    question_count: Mapped[int] = mapped_column(Integer, default=5)
    # The model that interviews and scores (a shared endpoint); None until an operator picks one.
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_endpoints.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InterviewStatus(enum.StrEnum):
    """An interview runs until its questions are answered, then waits for the operator."""

    in_progress = "in_progress"
    completed = "completed"
    abandoned = "abandoned"


class Interview(Base):
    """A text interview of a candidate by a model, with its suggested score (a person decides)."""

    __tablename__ = "expert_interviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("expert_candidates.id", ondelete="CASCADE"), index=True
    )
    guide_id: Mapped[int] = mapped_column(ForeignKey("expert_interview_guides.id"))
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_endpoints.id", ondelete="SET NULL")
    )
    status: Mapped[InterviewStatus] = mapped_column(_enum(InterviewStatus))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The suggestion: 1..5 overall, per-criterion scores with reasons, and the raw model answer.
    suggested_score: Mapped[float | None] = mapped_column(Float)
    suggested_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    scoring_raw: Mapped[str] = mapped_column(Text, default="")
    scoring_provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)


class TurnRole(enum.StrEnum):
    """Who spoke a turn of the interview."""

    interviewer = "interviewer"
    candidate = "candidate"


class InterviewTurn(Base):
    """One turn of an interview, kept whole; the interviewer's turns keep their provenance."""

    __tablename__ = "expert_interview_turns"
    __table_args__ = (UniqueConstraint("interview_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interview_id: Mapped[int] = mapped_column(
        ForeignKey("expert_interviews.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[TurnRole] = mapped_column(_enum(TurnRole))
    text: Mapped[str] = mapped_column(Text)
    # For interviewer turns: model, parameters, finish reason, usage, error (if any).
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
