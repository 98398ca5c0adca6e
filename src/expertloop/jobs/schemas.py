"""Job shapes for the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from expertloop.jobs.models import JobStatus


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    title: str
    status: JobStatus
    progress_done: int
    progress_total: int | None
    progress_note: str
    result: dict[str, Any] | None
    error: str
    attempts: int
    max_attempts: int
    cancel_requested: bool
    created_by_id: int | None
    organisation_id: int | None
    project_id: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
