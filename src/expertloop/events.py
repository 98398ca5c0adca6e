"""Typed audit events and the append-only audit log they land in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from expertloop.db import Base
from expertloop.types import UTCDateTime, utcnow


class AuditLog(Base):
    """One audit event; rows are never updated or deleted (enforced by database triggers)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(80), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every audit event: who did it, from where, and to what."""

    kind: str = field(init=False, default="event")
    actor_user_id: int | None = None
    organisation_id: int | None = None
    ip: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None

    def payload(self) -> dict[str, Any]:
        """Return the event-specific fields (everything but the common ones)."""
        common = {"kind", "actor_user_id", "organisation_id", "ip", "subject_type", "subject_id"}
        return {k: v for k, v in self.__dict__.items() if k not in common}


EMITTED_KINDS_KEY = "expertloop.events.emitted_kinds"


def emit(event: Event, *, session: Session) -> AuditLog:
    """Append ``event`` to the audit log within the caller's transaction.

    The kinds emitted are noted in ``session.info`` so that an after-commit listener (set up by
    the composition root, e.g. for webhooks) can react to what a transaction recorded.
    """
    row = AuditLog(
        kind=event.kind,
        actor_user_id=event.actor_user_id,
        organisation_id=event.organisation_id,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        ip=event.ip,
        data=event.payload(),
    )
    session.add(row)
    session.flush()
    session.info.setdefault(EMITTED_KINDS_KEY, set()).add(event.kind)
    return row


def recent(
    *, session: Session, kind: str | None = None, limit: int = 100, before_id: int | None = None
) -> list[AuditLog]:
    """Return audit rows, newest first, optionally of one kind, paginated by id."""
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if kind:
        query = query.where(AuditLog.kind == kind)
    if before_id:
        query = query.where(AuditLog.id < before_id)
    return list(session.scalars(query))
