"""Pydantic shapes of the payments API. Money is integer minor units with its currency."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from expertloop.payments.models import AdjustmentStatus, TimesheetStatus
from expertloop.text import CleanText


class RateIn(BaseModel):
    user_id: int | None = None
    project_id: int | None = None
    currency: str = Field(min_length=3, max_length=3)
    hourly_minor: int = Field(gt=0, description="Per hour, in minor units (18750 = 187.50).")
    effective_from: dt.date


class RateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int | None
    project_id: int | None
    currency: str
    hourly_minor: int
    effective_from: dt.date
    created_at: dt.datetime


class PayTermsIO(BaseModel):
    weekly_cap_minutes: int | None = Field(default=None, ge=1, le=10080)
    margin_bp: int = Field(ge=0, le=50_000, description="Basis points over cost (2500 = 25 %).")


class BonusRuleIn(BaseModel):
    kind: Literal["per_accepted_item", "completion", "referral"]
    currency: str = Field(min_length=3, max_length=3)
    amount_minor: int = Field(gt=0)
    min_accepted: int | None = Field(default=None, ge=1)
    min_hours: int | None = Field(
        default=None, ge=1, description="referral: approved hours the referred expert needs."
    )


class BonusRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    kind: str
    currency: str
    amount_minor: int
    params: dict[str, int]
    active: bool


class ManualBonusIn(BaseModel):
    user_id: int
    project_id: int
    currency: str = Field(min_length=3, max_length=3)
    amount_minor: int = Field(gt=0)
    reason: CleanText = Field(min_length=1, max_length=2000)
    earned_on: dt.date | None = None


class EvaluateIn(BaseModel):
    until: dt.date
    project_id: int | None = None
    completed: bool = Field(
        default=False, description="The project is complete: pay completion bonuses."
    )


class BonusOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    project_id: int
    kind: str
    currency: str
    amount_minor: int
    reason: str
    earned_on: dt.date
    transaction_id: int | None


class WeekLineOut(BaseModel):
    project_id: int
    tracked_seconds: int
    adjustment_seconds: int
    capped_seconds: int
    cap_minutes: int | None


class WeekOut(BaseModel):
    week_start: dt.date
    lines: list[WeekLineOut]
    timesheet_id: int | None
    status: TimesheetStatus


class AdjustmentIn(BaseModel):
    project_id: int
    work_date: dt.date
    minutes: int = Field(ge=-1440, le=1440)
    reason: CleanText = Field(min_length=1, max_length=2000)


class AdjustmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    project_id: int
    work_date: dt.date
    minutes: int
    reason: str
    status: AdjustmentStatus
    created_at: dt.datetime


class TimesheetIn(BaseModel):
    week_start: dt.date = Field(description="A Monday.")


class TimesheetLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    project_id: int
    tracked_seconds: int
    adjustment_seconds: int
    capped_seconds: int
    currency: str
    hourly_minor: int
    amount_minor: int


class TimesheetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    week_start: dt.date
    status: TimesheetStatus
    comment: str
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    transaction_id: int | None
    lines: list[TimesheetLineOut] = Field(
        default_factory=list,
        description=(
            "Frozen at approval, with pay; only for the expert and operators. A lead gets none "
            "(and no transaction_id): the hours are in GET /timesheets/review."
        ),
    )


class TimesheetReviewOut(BaseModel):
    """A submitted week as its reviewer sees it: hours per project, no rates or pay."""

    id: int
    user_id: int
    user_name: str
    week_start: dt.date
    status: TimesheetStatus
    submitted_at: dt.datetime | None
    lines: list[WeekLineOut]
    waiting_adjustments: int = Field(
        description="Requested adjustments of the week still undecided (approve waits for them)."
    )


class CommentIn(BaseModel):
    comment: CleanText = Field(default="", max_length=5000)


class PayoutRunIn(BaseModel):
    period_start: dt.date
    period_end: dt.date
    dry_run: bool = False


class PayoutRunJobIn(BaseModel):
    """A payout run to make in the background (preview with ``POST /payout-runs``)."""

    period_start: dt.date
    period_end: dt.date


class PayoutOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    currency: str
    amount_minor: int


class PayoutRunOut(BaseModel):
    id: int | None = Field(description="None for a dry run.")
    period_start: dt.date
    period_end: dt.date
    created: bool = Field(description="False when the idempotency key was seen before.")
    dry_run: bool
    payouts: list[PayoutOut]
    totals: dict[str, int]


class StatementLineOut(BaseModel):
    on: dt.date
    kind: str
    description: str
    currency: str
    amount_minor: int
    transaction_id: int


class StatementOut(BaseModel):
    user_id: int
    period_start: dt.date
    period_end: dt.date
    opening: dict[str, int]
    lines: list[StatementLineOut]
    closing: dict[str, int]
    earned: dict[str, int]
    paid: dict[str, int]


class InvoiceLineOut(BaseModel):
    on: dt.date
    description: str
    currency: str
    amount_minor: int


class InvoiceOut(BaseModel):
    project_id: int
    period_start: dt.date
    period_end: dt.date
    lines: list[InvoiceLineOut]
    totals: dict[str, int]


class ProjectEarningsOut(BaseModel):
    project_id: int
    project: str
    currency: str
    amount_minor: int


class EarningsOut(BaseModel):
    lifetime: dict[str, int]
    paid: dict[str, int]
    pending: dict[str, int]
    bonuses: dict[str, int]
    weeks: list[dict[str, object]]
    projects: list[ProjectEarningsOut] = Field(
        description="Earned from approved time, one row per project and currency."
    )


class ReverseIn(BaseModel):
    reason: CleanText = Field(min_length=1, max_length=2000)


class TransactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    description: str
    effective_on: dt.date
    reverses_id: int | None
