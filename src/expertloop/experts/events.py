"""Audit events of the expert network."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class CandidateMoved(Event):
    """A candidate moved from one vetting state to another (a person's decision, or their own)."""

    kind: str = field(init=False, default="experts.candidate_moved")
    candidate_id: int
    from_state: str | None
    to_state: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class InterviewGuideSaved(Event):
    """An operator saved a new version of the interview guide (prompts, rubric, model)."""

    kind: str = field(init=False, default="experts.interview_guide_saved")
    version: int
    endpoint_id: int | None
    question_count: int


@dataclass(frozen=True, kw_only=True)
class InterviewStarted(Event):
    """A candidate started their model-led interview (on a guide version and a model)."""

    kind: str = field(init=False, default="experts.interview_started")
    candidate_id: int
    guide_version: int
    endpoint_id: int | None


@dataclass(frozen=True, kw_only=True)
class InterviewCompleted(Event):
    """A candidate answered the interview's last question."""

    kind: str = field(init=False, default="experts.interview_completed")
    candidate_id: int
    answers: int


@dataclass(frozen=True, kw_only=True)
class InterviewScored(Event):
    """The model suggested a score for an interview (or its answer could not be read)."""

    kind: str = field(init=False, default="experts.interview_scored")
    candidate_id: int
    suggested_score: float | None
    model_run_id: int | None


# --- Outreach (invitations, referrals, profiles) ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CandidateEntered(Event):
    """A candidate entered the pipeline as invited (by an operator or an expert's referral)."""

    kind: str = field(init=False, default="experts.candidate_entered")
    candidate_id: int
    source: str


@dataclass(frozen=True, kw_only=True)
class InvitationCreated(Event):
    """An invitation link was made for a candidate (its token is never recorded)."""

    kind: str = field(init=False, default="experts.invitation_created")
    candidate_id: int
    invitation_kind: str
    expires_at: str
    mailed: bool


@dataclass(frozen=True, kw_only=True)
class InvitationRevoked(Event):
    """An operator revoked an unused invitation link."""

    kind: str = field(init=False, default="experts.invitation_revoked")
    candidate_id: int


@dataclass(frozen=True, kw_only=True)
class InvitationAccepted(Event):
    """The invited person used their link: an account and a profile were made, they applied."""

    kind: str = field(init=False, default="experts.invitation_accepted")
    candidate_id: int
    user_id: int


@dataclass(frozen=True, kw_only=True)
class ProfileSaved(Event):
    """An expert's profile was saved (by them, an operator or the system)."""

    kind: str = field(init=False, default="experts.profile_saved")
    created: bool
    version: int


@dataclass(frozen=True, kw_only=True)
class AssessmentBankSaved(Event):
    """An operator created a domain's question bank or changed its rules."""

    kind: str = field(init=False, default="experts.assessment_bank_saved")
    domain: str
    question_count: int
    time_limit_seconds: int


@dataclass(frozen=True, kw_only=True)
class AssessmentQuestionSaved(Event):
    """An operator added or changed a question of a bank (or took it out of the draws)."""

    kind: str = field(init=False, default="experts.assessment_question_saved")
    bank_id: int
    question_kind: str
    active: bool


@dataclass(frozen=True, kw_only=True)
class AssessmentStarted(Event):
    """A candidate started a domain assessment (the questions drawn, the server's deadline)."""

    kind: str = field(init=False, default="experts.assessment_started")
    candidate_id: int
    bank_id: int
    questions: int
    deadline_at: str


@dataclass(frozen=True, kw_only=True)
class AssessmentSubmitted(Event):
    """An assessment attempt closed: submitted by its candidate, or at its time limit."""

    kind: str = field(init=False, default="experts.assessment_submitted")
    candidate_id: int
    answered: int
    timed_out: bool


@dataclass(frozen=True, kw_only=True)
class AssessmentGraded(Event):
    """An assessment attempt got its score (at once, or after its free-text answers were graded)."""

    kind: str = field(init=False, default="experts.assessment_graded")
    candidate_id: int
    score: int
    max_score: int
    passed: bool
