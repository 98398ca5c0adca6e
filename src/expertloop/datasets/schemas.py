"""Pydantic shapes of the datasets domain going in and out of the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from expertloop.datasets.models import ImportStatus, SnapshotStatus
from expertloop.text import CleanLine

# --- Snapshots ---------------------------------------------------------------------------------


class SnapshotFiltersIn(BaseModel):
    domain: CleanLine | None = Field(
        default=None, max_length=100, description="Only problem sets of this domain."
    )
    accepted_from: dt.date | None = Field(
        default=None, description="Only problem sets accepted on or after this day (UTC)."
    )
    accepted_to: dt.date | None = Field(
        default=None, description="Only problem sets accepted on or before this day (UTC)."
    )
    endpoint_ids: list[int] | None = Field(
        default=None,
        max_length=100,
        description="Only model answers of these target models (endpoint ids).",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> SnapshotFiltersIn:
        if self.accepted_from and self.accepted_to and self.accepted_from > self.accepted_to:
            raise ValueError("accepted_from is after accepted_to")
        return self


class SnapshotIn(BaseModel):
    filters: SnapshotFiltersIn = Field(default_factory=SnapshotFiltersIn)
    test_fraction: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Share of problem sets in the test split (by a hash of their id).",
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Retrying with the same key returns the snapshot it made.",
    )


class SnapshotFileOut(BaseModel):
    path: str
    bytes: int
    sha256: str
    rows: int | None
    format: str
    split: str


class SnapshotOut(BaseModel):
    id: int
    project_id: int
    number: int
    status: SnapshotStatus
    filters: dict[str, Any]
    test_fraction: float
    counts: dict[str, Any]
    total_bytes: int
    job_id: int | None
    error: str
    created_at: dt.datetime
    ready_at: dt.datetime | None
    manifest: dict[str, Any] | None = Field(description="manifest.json, once ready.")
    files: list[SnapshotFileOut] = Field(description="The data files, once ready.")
    archive_url: str | None = Field(description="The whole folder as a zip (?format=tar).")


class ImportErrorOut(BaseModel):
    """One refused record: its line (row, task), the field at fault, and why."""

    line: int = Field(description="1-based line (JSONL, CSV), row (Parquet) or task number.")
    field: str = Field(description="The field at fault; empty when the record is unreadable.")
    message: str


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    filename: str
    format: str
    status: ImportStatus
    size_bytes: int
    rows_total: int
    rows_imported: int
    error_count: int
    errors: list[ImportErrorOut] = Field(description="The first 100 errors.")
    job_id: int | None
    duplicate: bool = Field(
        default=False, description="True when the same content was already uploaded."
    )
    created_at: dt.datetime
    finished_at: dt.datetime | None


class SeedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    import_id: int
    line: int
    external_id: str
    title: str
    statement: str
    context: str
    domain: str
    prompts: list[str]
    extra: dict[str, Any]
    picked_by_id: int | None
    problem_set_id: int | None
    picked_at: dt.datetime | None


class PickUpOut(BaseModel):
    """The draft problem set a pick-up created, and the seed now marked picked."""

    problem_set_id: int
    problem_set_url: str
    step_ids: list[int]
    seed: SeedOut
