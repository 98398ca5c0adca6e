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
