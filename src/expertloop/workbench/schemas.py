"""Pydantic shapes of the workbench API (in and out)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from expertloop.llm.schemas import RunOut
from expertloop.text import CleanLine, CleanText
from expertloop.workbench.models import Persona, Severity, Side, Status


class ProblemSetIn(BaseModel):
    title: CleanLine = Field(min_length=1, max_length=300)
    statement: CleanText = Field(default="", max_length=100_000)
    context: CleanText = Field(default="", max_length=500_000)
    persona: Persona = Persona.user
    domain: CleanLine | None = Field(default=None, max_length=100)


class ProblemSetPatch(BaseModel):
    version: int = Field(description="The version you edited; a stale one gets 409.")
    title: CleanLine | None = Field(default=None, max_length=300)
    statement: CleanText | None = Field(default=None, max_length=100_000)
    context: CleanText | None = Field(default=None, max_length=500_000)
    persona: Persona | None = None
    domain: CleanLine | None = Field(default=None, max_length=100)


class StepStateOut(BaseModel):
    number: str
    label: str
    passing: bool
    has_ideal: bool
    done: bool
    revision_number: int | None
    passing_step_run_id: int | None


class ProblemSetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    author_id: int
    title: str
    statement: str
    context: str
    persona: Persona
    domain: str
    status: Status
    review_comment: str
    submitted_at: dt.datetime | None
    accepted_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class StepIn(BaseModel):
    title: CleanLine = Field(default="", max_length=300)
    prompt: CleanText = Field(default="", max_length=100_000)
    rubric: list[CleanText] = Field(default_factory=list, max_length=50)
    reference: CleanText = Field(default="", max_length=100_000)
    parent_id: int | None = None
    chain: bool = False


class StepPatch(BaseModel):
    version: int = Field(description="The version you edited; a stale one gets 409.")
    title: CleanLine | None = Field(default=None, max_length=300)
    chain: bool | None = None
    draft_prompt: CleanText | None = Field(default=None, max_length=100_000)
    draft_rubric: list[CleanText] | None = Field(default=None, max_length=50)
    draft_reference: CleanText | None = Field(default=None, max_length=100_000)


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    problem_set_id: int
    parent_id: int | None
    position: int
    title: str
    chain: bool
    draft_prompt: str
    draft_rubric: list[str]
    draft_reference: str
    version: int
    state: StepStateOut | None = None


class ProblemSetDetailOut(ProblemSetOut):
    steps: list[StepOut]
    actions: list[str] = Field(description="Status actions the caller may take now.")
    can_edit: bool


class ReorderIn(BaseModel):
    step_ids: list[int] = Field(min_length=1, max_length=200)


class ReviseIn(BaseModel):
    reason: CleanText = Field(default="", max_length=5000)
    motivated_by: list[int] = Field(default_factory=list, max_length=200)


class RevisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    step_id: int
    number: int
    prompt: str
    rubric: list[str]
    reference: str
    reason: str
    motivated_by: list[int]
    author_id: int
    created_at: dt.datetime


class TransitionIn(BaseModel):
    comment: CleanText = Field(default="", max_length=20_000)
    version: int | None = None


class StepRunIn(BaseModel):
    endpoint_id: int


class StepRunOut(BaseModel):
    id: int
    revision_id: int
    chained: bool
    run: RunOut
    rubric: dict[int, bool] = Field(default_factory=dict, description="criterion index → met")


class AnnotationIn(BaseModel):
    step_run_id: int | None = Field(
        default=None, description="The run whose answer is annotated; omit for the prompt."
    )
    start: int | None = Field(default=None, ge=0, description="Code-point offset, inclusive.")
    end: int | None = Field(default=None, ge=0, description="Code-point offset, exclusive.")
    quote: CleanText | None = Field(
        default=None, description="The selected text (\\n line ends), checked if given."
    )
    category: CleanLine = Field(min_length=1, max_length=60)
    severity: Severity
    note: CleanText = Field(default="", max_length=10_000)


class AnnotationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    revision_id: int
    step_run_id: int | None
    side: Side
    start: int | None
    end: int | None
    quote: str
    category: str
    taxonomy_version: int
    severity: Severity
    note: str
    author_id: int
    created_at: dt.datetime


class RubricIn(BaseModel):
    criterion: int = Field(ge=0)
    met: bool


class IdealIn(BaseModel):
    text: CleanText = Field(max_length=200_000)
    version: int | None = Field(
        default=None, description="Omit to create; else the version edited."
    )
    based_on_step_run_id: int | None = None


class IdealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    step_id: int
    revision_id: int | None
    based_on_step_run_id: int | None
    text: str
    diff: list[list[str]]
    version: int
    updated_at: dt.datetime


class CategoryIO(BaseModel):
    key: CleanLine = Field(min_length=1, max_length=60)
    label: CleanLine = Field(min_length=1, max_length=100)
    side: Literal["response", "prompt"]
    description: CleanText = Field(default="", max_length=2000)


class TaxonomyIn(BaseModel):
    version: int = Field(description="The version you edited (0 = the defaults).")
    categories: list[CategoryIO] = Field(min_length=1, max_length=100)


class TaxonomyOut(BaseModel):
    version: int
    categories: list[CategoryIO]


class HeartbeatIn(BaseModel):
    project_id: int
    problem_set_id: int | None = None
    kind: Literal["active", "typing", "click", "visible"] = "active"


class HeartbeatOut(BaseModel):
    recorded: bool
    tracked_seconds: float = Field(
        description="Your tracked time on this problem set (without one: on the project this week)."
    )


class DiffOut(BaseModel):
    ops: list[list[str]]
    added: int
    removed: int


class RunAllIn(BaseModel):
    endpoint_ids: list[int] | None = Field(
        default=None,
        max_length=50,
        description="Target models to run on (default: every target model of the project).",
    )
