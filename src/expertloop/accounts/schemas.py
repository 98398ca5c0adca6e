"""Pydantic shapes for accounts going in and out of the API."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from expertloop.accounts.models import OrganisationKind, Role
from expertloop.text import CleanLine


class LoginIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class OrganisationIn(BaseModel):
    name: CleanLine = Field(min_length=1, max_length=200)
    kind: Literal[OrganisationKind.client] = Field(
        default=OrganisationKind.client,
        description="Only client organisations are created; the operator's exists once.",
    )


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str
    kind: OrganisationKind
    created_at: dt.datetime


class UserIn(BaseModel):
    organisation_id: int
    email: CleanLine = Field(min_length=3, max_length=320)
    name: CleanLine = Field(min_length=1, max_length=200)
    role: Role
    password: str = Field(min_length=1, max_length=1024)


class UserPatch(BaseModel):
    role: Role | None = None
    is_active: bool | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    email: str
    name: str
    role: Role
    is_active: bool
    created_at: dt.datetime


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str
    expires_at: dt.datetime


class TokenIn(BaseModel):
    name: CleanLine = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The secret. Shown once; store it now.")
