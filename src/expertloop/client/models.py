"""What the API returns, as frozen, typed records (the client's own; not the server's classes).

Unknown fields are ignored, so a newer server does not break an older client; fields a server
may leave out have defaults. Status fields are plain strings (the values are listed on each).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class User(_Record):
    """An account: ``role`` is operator, client, expert or reviewer."""

    id: int
    organisation_id: int
    email: str
    name: str
    role: str
    is_active: bool = True
    created_at: dt.datetime | None = None


class Token(_Record):
    """An API token; ``token`` (the secret) is only set on the answer that created it."""

    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    token: str | None = None


class Project(_Record):
    """A client project; ``version`` is what an edit must send back."""

    id: int
    organisation_id: int
    name: str
    description: str = ""
    domain: str = ""
    guidelines: str = ""
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int = 1


class ProblemSet(_Record):
    """A problem set; ``status``: draft, in_progress, submitted, in_review, accepted, returned."""

    id: int
    project_id: int
    author_id: int
    title: str
    statement: str = ""
    context: str = ""
    persona: str = ""
    domain: str = ""
    status: str
    review_comment: str = ""
    submitted_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int = 1


class ImportIssue(_Record):
    """One refused record of an import: its 1-based line (row, task), the field, and why."""

    line: int
    field: str = ""
    message: str


IMPORT_FINISHED = frozenset({"imported", "failed"})


class Import(_Record):
    """A seed import; ``status``: queued, validating, imported or failed (nothing committed)."""

    id: int
    project_id: int
    filename: str = ""
    format: str = ""
    status: str
    size_bytes: int = 0
    rows_total: int = 0
    rows_imported: int = 0
    error_count: int = 0
    errors: tuple[ImportIssue, ...] = ()
    job_id: int | None = None
    duplicate: bool = False
    created_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in IMPORT_FINISHED


class Seed(_Record):
    """An imported seed problem (or prompt), ready for an expert to pick up."""

    id: int
    project_id: int
    import_id: int
    line: int
    external_id: str = ""
    title: str = ""
    statement: str = ""
    context: str = ""
    domain: str = ""
    prompts: tuple[str, ...] = ()
    extra: dict[str, Any] = Field(default_factory=dict)
    picked_by_id: int | None = None
    problem_set_id: int | None = None
    picked_at: dt.datetime | None = None


class SnapshotFile(_Record):
    """One data file of a ready snapshot, as its manifest lists it (``path`` in the folder)."""

    path: str
    bytes: int
    sha256: str
    rows: int | None = None
    format: str = ""
    split: str = ""


class Snapshot(_Record):
    """A numbered, immutable dataset snapshot; ``status``: building, ready or failed."""

    id: int
    project_id: int
    number: int
    status: str
    filters: dict[str, Any] = Field(default_factory=dict)
    test_fraction: float = 0.1
    counts: dict[str, Any] = Field(default_factory=dict)
    total_bytes: int = 0
    job_id: int | None = None
    error: str = ""
    created_at: dt.datetime | None = None
    ready_at: dt.datetime | None = None
    manifest: dict[str, Any] | None = None
    files: tuple[SnapshotFile, ...] = ()
    archive_url: str | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ready"


JOB_FINISHED = frozenset({"done", "failed", "cancelled"})


class Job(_Record):
    """A background job; ``status``: queued, running, done, failed or cancelled."""

    id: int
    kind: str
    title: str = ""
    status: str
    progress_done: int = 0
    progress_total: int | None = None
    progress_note: str = ""
    result: dict[str, Any] | None = None
    error: str = ""
    attempts: int = 0
    max_attempts: int = 0
    cancel_requested: bool = False
    created_by_id: int | None = None
    organisation_id: int | None = None
    project_id: int | None = None
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in JOB_FINISHED
