"""Pydantic shapes for projects going in and out of the API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from expertloop.projects.models import StaffRole
from expertloop.text import CleanLine, CleanText


class ProjectIn(BaseModel):
    organisation_id: int | None = Field(
        default=None, description="Client organisation; defaults to the caller's own."
    )
    name: CleanLine = Field(min_length=1, max_length=200)
    description: CleanText = Field(default="", max_length=20_000)
    domain: CleanLine = Field(default="", max_length=100)
    guidelines: CleanText = Field(default="", max_length=200_000)


# The public summary: what an invited expert reads before accepting the project's NDA.
_Hours = Field(default=None, ge=0, le=80, description="Expected hours of work per week.")
_Rate = Field(
    default=None, ge=0, le=10_000_000, description="Advertised hourly rate in minor units."
)
_Currency = Field(
    default=None, pattern=r"^[A-Za-z]{3}$|^$", description="Currency of the rate, e.g. USD."
)


class ProjectPatch(BaseModel):
    version: int = Field(description="The version you edited; a stale one gets 409.")
    name: CleanLine | None = Field(default=None, min_length=1, max_length=200)
    description: CleanText | None = Field(default=None, max_length=20_000)
    domain: CleanLine | None = Field(default=None, max_length=100)
    guidelines: CleanText | None = Field(default=None, max_length=200_000)
    public_summary: CleanText | None = Field(default=None, max_length=5_000)
    expected_hours_per_week: int | None = _Hours
    hourly_rate_cents: int | None = _Rate
    rate_currency: CleanLine | None = _Currency


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    name: str
    description: str
    domain: str
    guidelines: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    public_summary: str = ""
    expected_hours_per_week: int | None = None
    hourly_rate_cents: int | None = None
    rate_currency: str = ""


class StaffingIn(BaseModel):
    user_id: int
    role: StaffRole


class StaffRoleIn(BaseModel):
    role: StaffRole


class StaffingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    user_id: int
    role: StaffRole
    created_at: dt.datetime


class PublicSummaryOut(BaseModel):
    """What an invited expert may know of a project before accepting its NDA."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    domain: str
    public_summary: str
    expected_hours_per_week: int | None
    hourly_rate_cents: int | None
    rate_currency: str


class NdaIn(BaseModel):
    text: CleanText = Field(min_length=1, max_length=100_000, description="The full NDA text.")


class NdaAcceptIn(BaseModel):
    version: int = Field(description="The NDA version you read; a newer one gets 409.")


class NdaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    version: int
    text: str
    created_at: dt.datetime


class NdaAcceptanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    nda_id: int
    project_id: int
    version: int
    user_id: int
    accepted_at: dt.datetime
    ip_address: str
    user_agent: str


class NdaStateOut(BaseModel):
    """A project's NDA as the caller sees it: the current version and whether they accepted it."""

    project: PublicSummaryOut
    nda: NdaOut | None
    accepted: bool = Field(description="You accepted the current version (or there is no NDA).")
    accepted_at: dt.datetime | None = None
    pending: bool = Field(description="You are staffed, but the project opens once you accept.")
    acceptances: int | None = Field(
        default=None, description="How many accepted the current version (operators only)."
    )


class ProjectInvitationOut(BaseModel):
    """A project you are staffed on that opens once you accept its NDA."""

    project: PublicSummaryOut
    role: StaffRole
    nda_version: int
    staffed_at: dt.datetime
