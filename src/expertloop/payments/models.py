"""Payment tables. Money is integer minor units with a currency; dates of work are UTC dates."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from expertloop.db import Base
from expertloop.types import UTCDateTime, utcnow

Money = BigInteger().with_variant(Integer, "sqlite")


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class Rate(Base):
    """An hourly rate from a date on: an expert's base rate, or a project override.

    user only: the expert's base rate; project only: the project's rate for every expert;
    both: that expert on that project. The most specific rate in force on the work date wins.
    Rows are never edited: a change is a new row with a later ``effective_from``.
    """

    __tablename__ = "pay_rates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    hourly_minor: Mapped[int] = mapped_column(Money)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PayTerms(Base):
    """A project's pay terms: weekly cap, billing margin and currency."""

    __tablename__ = "pay_terms"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    weekly_cap_minutes: Mapped[int | None] = mapped_column(Integer)
    margin_bp: Mapped[int] = mapped_column(Integer)  # basis points over cost billed to the client
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BonusRule(Base):
    """A project bonus rule; ``kind`` names an evaluator in ``payments.bonuses.EVALUATORS``."""

    __tablename__ = "bonus_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Money)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Bonus(Base):
    """A bonus earned by an expert; ``source_key`` makes each one earnable exactly once."""

    __tablename__ = "bonuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("bonus_rules.id"))
    kind: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(Text, default="")
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    earned_on: Mapped[dt.date] = mapped_column(Date)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AdjustmentStatus(enum.StrEnum):
    requested = "requested"
    approved = "approved"
    rejected = "rejected"


class TimeAdjustment(Base):
    """A manual change to tracked time (with a reason), counted once an operator or the
    project's lead approves it."""

    __tablename__ = "time_adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    work_date: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer)  # signed
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[AdjustmentStatus] = mapped_column(
        _enum(AdjustmentStatus), default=AdjustmentStatus.requested
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TimesheetStatus(enum.StrEnum):
    open = "open"
    submitted = "submitted"
    approved = "approved"
    returned = "returned"


class Timesheet(Base):
    """An expert's week (Monday to Sunday, UTC); approved lines are frozen and posted."""

    __tablename__ = "timesheets"
    __table_args__ = (UniqueConstraint("user_id", "week_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    week_start: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[TimesheetStatus] = mapped_column(
        _enum(TimesheetStatus), default=TimesheetStatus.open
    )
    comment: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class TimesheetLine(Base):
    """One project's frozen time and pay in an approved week."""

    __tablename__ = "timesheet_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timesheet_id: Mapped[int] = mapped_column(ForeignKey("timesheets.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    tracked_seconds: Mapped[int] = mapped_column(Integer)
    adjustment_seconds: Mapped[int] = mapped_column(Integer)
    capped_seconds: Mapped[int] = mapped_column(Integer)  # what is paid, after the weekly cap
    rate_id: Mapped[int | None] = mapped_column(ForeignKey("pay_rates.id"))
    currency: Mapped[str] = mapped_column(String(3))
    hourly_minor: Mapped[int] = mapped_column(Money)
    amount_minor: Mapped[int] = mapped_column(Money)
    margin_minor: Mapped[int] = mapped_column(Money)


class LedgerTransaction(Base):
    """A balanced set of entries; never changed (database triggers), corrected by reversal."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    effective_on: Mapped[dt.date] = mapped_column(Date, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), unique=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    """One side of a transaction: positive is a debit, negative a credit."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account: Mapped[str] = mapped_column(String(40), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Money)
    memo: Mapped[str] = mapped_column(Text, default="")


class PayoutRun(Base):
    """A payout of everything owed up to ``period_end``; the key makes retries harmless."""

    __tablename__ = "payout_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    params_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Payout(Base):
    """What one expert is paid in one run, in one currency."""

    __tablename__ = "payouts"
    __table_args__ = (UniqueConstraint("run_id", "user_id", "currency"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("payout_runs.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(Money)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
