"""Review tables: comments on steps and spans, per-project review settings, and what each step
was when a problem set was returned (so that a resubmission can be compared with it)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.db import Base
from expertloop.types import UTCDateTime, utcnow


class ReviewComment(Base):
    """A reviewer's comment on a step, or on a span of a revision's prompt or a run's answer.

    A span counts Unicode code points (Python ``str`` indices), end exclusive, like annotations;
    ``quote`` is the commented text, checked against the offsets when saved.
    """

    __tablename__ = "review_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    problem_set_id: Mapped[int] = mapped_column(
        ForeignKey("problem_sets.id", ondelete="CASCADE"), index=True
    )
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    # The text a span is on: a revision's prompt, or (with step_run_id) a run's answer.
    revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("step_revisions.id", ondelete="CASCADE")
    )
    step_run_id: Mapped[int | None] = mapped_column(ForeignKey("step_runs.id", ondelete="CASCADE"))
    # "step" (the whole step), "prompt" or "response".
    target: Mapped[str] = mapped_column(String(20), default="step")
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    quote: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ReviewSettings(Base):
    """How a project shares review: whether its client organisation sees reviewers' comments."""

    __tablename__ = "review_settings"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    clients_see_comments: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewReturn(Base):
    """A return of a problem set to its author, with what its steps were at that moment."""

    __tablename__ = "review_returns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    problem_set_id: Mapped[int] = mapped_column(
        ForeignKey("problem_sets.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    returned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReturnedStep(Base):
    """One step as it stood at a return: its newest revision's prompt and its ideal answer.

    The ideal answer is edited in place (no history of its own), so its text is copied here.
    """

    __tablename__ = "review_returned_steps"
    __table_args__ = (UniqueConstraint("return_id", "step_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[int] = mapped_column(
        ForeignKey("review_returns.id", ondelete="CASCADE"), index=True
    )
    # Kept when the step is deleted later, so the reviewer still learns that it went.
    step_id: Mapped[int] = mapped_column(Integer)
    step_title: Mapped[str] = mapped_column(String(300), default="")
    revision_number: Mapped[int | None] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text, default="")
    ideal_text: Mapped[str | None] = mapped_column(Text)
