"""Workbench tables: problem sets, steps, immutable revisions, runs, annotations, rubric results,
ideal answers, per-project taxonomies and activity heartbeats."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.db import Base
from expertloop.types import UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class Persona(enum.StrEnum):
    """Who faces the problem."""

    user = "user"
    business_owner = "business_owner"
    executive = "executive"


class Status(enum.StrEnum):
    """Where a problem set is in its life (see ``workbench.status`` for the transitions)."""

    draft = "draft"
    in_progress = "in_progress"
    submitted = "submitted"
    in_review = "in_review"
    returned = "returned"
    accepted = "accepted"


class Severity(enum.StrEnum):
    """How bad an annotated fault is."""

    minor = "minor"
    major = "major"
    critical = "critical"


class Side(enum.StrEnum):
    """Whether a category (and an annotation) is about the answer or about the prompt."""

    response = "response"
    prompt = "prompt"


class ProblemSet(Base):
    """A realistic problem an expert decomposes into steps and works through with the models."""

    __tablename__ = "problem_sets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    statement: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[str] = mapped_column(Text, default="")
    persona: Mapped[Persona] = mapped_column(_enum(Persona), default=Persona.user)
    domain: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.draft, index=True)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Step(Base):
    """One step of a problem set; its prompt lives in immutable revisions plus a working draft."""

    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    problem_set_id: Mapped[int] = mapped_column(
        ForeignKey("problem_sets.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300), default="")
    # Chain mode: send the earlier steps' passing answers as the conversation before this prompt.
    chain: Mapped[bool] = mapped_column(Boolean, default=False)
    # The working draft of the next revision (autosaved; a revision is cut from it).
    draft_prompt: Mapped[str] = mapped_column(Text, default="")
    draft_rubric: Mapped[list[str]] = mapped_column(JSON, default=list)
    draft_reference: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class StepRevision(Base):
    """An immutable version of a step: prompt, rubric, reference facts, and why it changed."""

    __tablename__ = "step_revisions"
    __table_args__ = (UniqueConstraint("step_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    rubric: Mapped[list[str]] = mapped_column(JSON, default=list)
    reference: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    # Annotations (ids) that motivated this revision.
    motivated_by: Mapped[list[int]] = mapped_column(JSON, default=list)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StepRun(Base):
    """A model run of one revision (the run itself lives in ``model_runs``)."""

    __tablename__ = "step_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("step_revisions.id", ondelete="CASCADE"), index=True
    )
    model_run_id: Mapped[int] = mapped_column(ForeignKey("model_runs.id"), unique=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("model_endpoints.id"))
    chained: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Annotation(Base):
    """A located fault: a span of a run's answer, or a note on a revision's prompt.

    Offsets count Unicode code points (Python ``str`` indices), end exclusive; ``quote`` is the
    annotated text itself, checked against the offsets when saved.
    """

    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("step_revisions.id", ondelete="CASCADE"), index=True
    )
    step_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("step_runs.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[Side] = mapped_column(_enum(Side))
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    quote: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(60))
    taxonomy_version: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[Severity] = mapped_column(_enum(Severity))
    note: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RubricResult(Base):
    """Whether one run's answer meets one rubric criterion of its revision, and who said so."""

    __tablename__ = "rubric_results"
    __table_args__ = (UniqueConstraint("step_run_id", "criterion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_run_id: Mapped[int] = mapped_column(
        ForeignKey("step_runs.id", ondelete="CASCADE"), index=True
    )
    criterion: Mapped[int] = mapped_column(Integer)
    met: Mapped[bool] = mapped_column(Boolean)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdealAnswer(Base):
    """The expert's corrected answer for a step, with its diff to the model answer it began as."""

    __tablename__ = "ideal_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[int] = mapped_column(
        ForeignKey("steps.id", ondelete="CASCADE"), unique=True, index=True
    )
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("step_revisions.id"))
    based_on_step_run_id: Mapped[int | None] = mapped_column(ForeignKey("step_runs.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    # Word-level operations turning the model answer into this text (see workbench.diffs).
    diff: Mapped[list[Any]] = mapped_column(JSON, default=list)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Taxonomy(Base):
    """One version of a project's fault categories (a new row per edit; the newest applies)."""

    __tablename__ = "taxonomies"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    # [{"key", "label", "side", "description"}, ...]
    categories: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Heartbeat(Base):
    """A sign of real work in the workbench: the page visible and focused, the expert active."""

    __tablename__ = "activity_heartbeats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    problem_set_id: Mapped[int | None] = mapped_column(ForeignKey("problem_sets.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(20), default="active")
