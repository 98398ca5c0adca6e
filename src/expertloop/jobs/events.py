"""Audit events of background jobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class JobSubmitted(Event):
    kind: str = field(init=False, default="jobs.submitted")
    job_kind: str
    project_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class JobFailed(Event):
    kind: str = field(init=False, default="jobs.failed")
    job_kind: str
    project_id: int | None = None
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class JobCancelled(Event):
    kind: str = field(init=False, default="jobs.cancelled")
    job_kind: str
