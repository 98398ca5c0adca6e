"""Datasets tables: numbered immutable snapshots, seed imports and the seeds they bring."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.db import Base
from expertloop.types import UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class SnapshotStatus(enum.StrEnum):
    """A snapshot is built once, by a job; ready snapshots never change."""

    building = "building"
    ready = "ready"
    failed = "failed"


class Snapshot(Base):
    """A numbered, immutable dataset of a project's accepted problem sets."""

    __tablename__ = "dataset_snapshots"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    # Denormalised from the project so that tenant checks need no join.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[SnapshotStatus] = mapped_column(
        _enum(SnapshotStatus), default=SnapshotStatus.building, index=True
    )
    # {"domain", "accepted_from", "accepted_to", "endpoint_ids", ...} as asked.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    test_fraction_bp: Mapped[int] = mapped_column(Integer, default=1000)  # 1000 = 10 %
    # Folder under the snapshots directory, relative (e.g. "p12/s3").
    path: Mapped[str] = mapped_column(String(300), default="")
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # {"problem_sets": n, "steps": n, "annotations": n, ...} for lists and charts.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ready_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ImportStatus(enum.StrEnum):
    """Where an uploaded seed file is: checked whole, then imported all at once or not at all."""

    queued = "queued"
    validating = "validating"
    imported = "imported"
    failed = "failed"


class SeedImport(Base):
    """One uploaded file of seed problems or prompts for a project."""

    __tablename__ = "seed_imports"
    __table_args__ = (UniqueConstraint("project_id", "content_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    # jsonl, csv, parquet or label_studio
    format: Mapped[str] = mapped_column(String(20))
    content_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Where the upload waits for its job, relative to the data directory; removed afterwards.
    upload_path: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[ImportStatus] = mapped_column(
        _enum(ImportStatus), default=ImportStatus.queued, index=True
    )
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    # [{"line": n, "field": "prompt", "message": "..."}] (the first ones, capped)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Seed(Base):
    """An imported seed problem (or prompt) that an expert can pick up as a draft problem set."""

    __tablename__ = "seeds"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="RESTRICT"), index=True
    )
    import_id: Mapped[int] = mapped_column(
        ForeignKey("seed_imports.id", ondelete="CASCADE"), index=True
    )
    line: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(300))
    statement: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[str] = mapped_column(String(100), default="")
    # Step prompts, in order (a seed may be a single prompt).
    prompts: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    picked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    problem_set_id: Mapped[int | None] = mapped_column(ForeignKey("problem_sets.id"))
    picked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
