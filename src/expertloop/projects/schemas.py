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


class ProjectPatch(BaseModel):
    version: int = Field(description="The version you edited; a stale one gets 409.")
    name: CleanLine | None = Field(default=None, min_length=1, max_length=200)
    description: CleanText | None = Field(default=None, max_length=20_000)
    domain: CleanLine | None = Field(default=None, max_length=100)
    guidelines: CleanText | None = Field(default=None, max_length=200_000)


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
