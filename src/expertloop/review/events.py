"""Audit events of review."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class CommentAdded(Event):
    kind: str = field(init=False, default="review.comment_added")
    problem_set_id: int = 0
    step_id: int = 0
    target: str = "step"
    revision_id: int | None = None
    step_run_id: int | None = None
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, kw_only=True)
class ReturnRecorded(Event):
    kind: str = field(init=False, default="review.return_recorded")
    problem_set_id: int = 0
    steps: int = 0


@dataclass(frozen=True, kw_only=True)
class SettingsChanged(Event):
    kind: str = field(init=False, default="review.settings_changed")
    clients_see_comments: bool = False
