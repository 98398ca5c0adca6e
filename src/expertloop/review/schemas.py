"""Pydantic shapes of the review API (in and out)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from expertloop.text import CleanText


class CommentIn(BaseModel):
    body: CleanText = Field(min_length=1, max_length=10_000, description="What the reviewer says.")
    revision_id: int | None = Field(
        default=None, description="Comment on this revision's prompt (or a span of it)."
    )
    step_run_id: int | None = Field(
        default=None, description="Comment on this run's answer (or a span of it)."
    )
    start: int | None = Field(default=None, ge=0, description="Span start, in code points.")
    end: int | None = Field(default=None, ge=0, description="Span end (exclusive), code points.")
    quote: CleanText | None = Field(
        default=None,
        max_length=5_000,
        description="The commented text: checked against start/end, or found in the text "
        "(first occurrence) when no offsets are given.",
    )


class CommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    step_id: int
    target: Literal["step", "prompt", "response"]
    target_label: str
    revision_id: int | None
    step_run_id: int | None
    start: int | None
    end: int | None
    quote: str
    body: str
    author_id: int
    author_name: str
    created_at: dt.datetime


class HomeCommentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    problem_set_id: int
    problem_set_title: str
    step_id: int
    step_title: str
    target_label: str
    quote: str
    body: str
    author_name: str
    created_at: dt.datetime


class ReviewSettingsIn(BaseModel):
    clients_see_comments: bool = Field(
        description="Whether the project's client organisation reads reviewers' comments."
    )


class ReviewSettingsOut(BaseModel):
    project_id: int
    clients_see_comments: bool


class StepChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step_id: int
    number: str
    title: str
    kind: Literal["changed", "unchanged", "added", "removed"]
    revision_then: int | None
    revision_now: int | None
    prompt_diff: list[tuple[str, str]]
    ideal_diff: list[tuple[str, str]]
    prompt_changed: bool
    ideal_changed: bool


class SinceReturnOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    problem_set_id: int
    returned_at: dt.datetime
    reviewer_id: int
    comment: str
    steps: list[StepChangeOut]
