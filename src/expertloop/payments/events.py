"""Audit events of payments."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class RateSet(Event):
    kind: str = field(init=False, default="payments.rate_set")
    user_id: int | None = None
    project_id: int | None = None
    currency: str = ""
    hourly_minor: int = 0
    effective_from: str = ""


@dataclass(frozen=True, kw_only=True)
class PayTermsSet(Event):
    kind: str = field(init=False, default="payments.terms_set")
    weekly_cap_minutes: int | None = None
    margin_bp: int = 0


@dataclass(frozen=True, kw_only=True)
class AdjustmentRequested(Event):
    kind: str = field(init=False, default="payments.adjustment_requested")
    minutes: int = 0


@dataclass(frozen=True, kw_only=True)
class AdjustmentDecided(Event):
    kind: str = field(init=False, default="payments.adjustment_decided")
    status: str = ""


@dataclass(frozen=True, kw_only=True)
class TimesheetTransitioned(Event):
    kind: str = field(init=False, default="payments.timesheet_transitioned")
    week_start: str = ""
    to_status: str = ""
    amount_minor: int = 0


@dataclass(frozen=True, kw_only=True)
class BonusAwarded(Event):
    kind: str = field(init=False, default="payments.bonus_awarded")
    user_id: int = 0
    bonus_kind: str = ""
    amount_minor: int = 0
    currency: str = ""


@dataclass(frozen=True, kw_only=True)
class BonusRuleSet(Event):
    kind: str = field(init=False, default="payments.bonus_rule_set")
    rule_kind: str = ""
    amount_minor: int = 0


@dataclass(frozen=True, kw_only=True)
class PayoutRunCreated(Event):
    kind: str = field(init=False, default="payments.payout_run")
    period_end: str = ""
    payouts: int = 0
    totals: str = ""


@dataclass(frozen=True, kw_only=True)
class TransactionReversed(Event):
    kind: str = field(init=False, default="payments.transaction_reversed")
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ProjectCompleted(Event):
    kind: str = field(init=False, default="payments.project_completed")
    until: str = ""
