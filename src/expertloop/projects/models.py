"""Project tables: projects and who is staffed on them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.db import Base
from expertloop.types import UTCDateTime, utcnow


class StaffRole(enum.StrEnum):
    """What a staffed user does on a project."""

    expert = "expert"
    reviewer = "reviewer"
    lead = "lead"  # reviews like a reviewer, and approves the project's experts' time


# The project roles that accept and return problem sets.
REVIEWING = frozenset({StaffRole.reviewer, StaffRole.lead})


class Project(Base):
    """A client organisation's confidential project."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    domain: Mapped[str] = mapped_column(String(100), default="")
    guidelines: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The public summary: what an invited expert may read before accepting the project's NDA.
    public_summary: Mapped[str] = mapped_column(Text, default="")
    expected_hours_per_week: Mapped[int | None] = mapped_column(Integer)
    hourly_rate_cents: Mapped[int | None] = mapped_column(Integer)
    rate_currency: Mapped[str] = mapped_column(String(3), default="")


class Staffing(Base):
    """A user staffed on a project with a role."""

    __tablename__ = "project_staffing"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[StaffRole] = mapped_column(
        Enum(StaffRole, native_enum=False, length=20, validate_strings=True)
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TargetModel(Base):
    """A model endpoint the project's experts may run (the project's allow-list)."""

    __tablename__ = "project_target_models"
    __table_args__ = (UniqueConstraint("project_id", "endpoint_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("model_endpoints.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProjectNda(Base):
    """One version of a project's non-disclosure agreement (the newest one is in force)."""

    __tablename__ = "project_ndas"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NdaAcceptance(Base):
    """A staffed user's acceptance of one NDA version: who, when, from where."""

    __tablename__ = "nda_acceptances"
    __table_args__ = (UniqueConstraint("nda_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nda_id: Mapped[int] = mapped_column(ForeignKey("project_ndas.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    accepted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
