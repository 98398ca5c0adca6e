"""Pydantic shapes for endpoints and runs."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from expertloop.text import CleanLine, CleanText


class GenerationParamsIn(BaseModel):
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=32_768)
    seed: int | None = None
    top_p: float | None = Field(default=None, gt=0, le=1)
    system_prompt: CleanText | None = Field(default=None, max_length=20_000)


class EndpointIn(BaseModel):
    name: CleanLine = Field(min_length=1, max_length=100)
    provider: Literal["openai_compatible", "local", "scripted"]
    base_url: CleanLine = Field(default="", max_length=500)
    model_id: CleanLine = Field(min_length=1, max_length=200)
    api_key: SecretStr | None = Field(default=None, description="Write-only; never returned.")
    defaults: GenerationParamsIn = Field(default_factory=GenerationParamsIn)
    options: dict[str, Any] = Field(default_factory=dict)
    rate_limit_per_second: float | None = Field(default=None, gt=0, le=10_000)
    organisation_id: int | None = Field(
        default=None, description="A client organisation's own model; unset: shared by all."
    )


class EndpointPatch(BaseModel):
    version: int
    name: CleanLine | None = Field(default=None, min_length=1, max_length=100)
    base_url: CleanLine | None = Field(default=None, max_length=500)
    model_id: CleanLine | None = Field(default=None, min_length=1, max_length=200)
    api_key: SecretStr | None = Field(default=None, description="Write-only; empty string clears.")
    defaults: GenerationParamsIn | None = None
    rate_limit_per_second: float | None = Field(default=None, gt=0, le=10_000)


class EndpointPublicOut(BaseModel):
    """What non-operators see of an endpoint: no URL, defaults or system prompt."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    provider: str
    model_id: str


class EndpointOut(EndpointPublicOut):
    """What operators see: everything but the key."""

    organisation_id: int | None
    base_url: str
    has_api_key: bool
    defaults: dict[str, Any]
    rate_limit_per_second: float | None
    is_active: bool
    created_at: dt.datetime
    version: int


class MessageIn(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: CleanText = Field(max_length=200_000)


class RunIn(BaseModel):
    endpoint_id: int
    messages: list[MessageIn] = Field(min_length=1, max_length=200)
    params: GenerationParamsIn = Field(default_factory=GenerationParamsIn)


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: int
    project_id: int | None
    user_id: int | None
    replay_of_id: int | None
    provider: str
    model_id: str
    params: dict[str, Any]
    messages: list[dict[str, str]]
    answer: str
    status: str
    finish_reason: str | None
    error_reason: str | None
    upstream_error: str | None = Field(default=None, description="Operators only.")
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float | None
    ttft_ms: float | None
    attempts: int
    created_at: dt.datetime
    finished_at: dt.datetime | None


class EndpointTestOut(BaseModel):
    ok: bool
    status: str
    answer: str
    error: str | None
    upstream_error: str | None
    latency_ms: float | None
    ttft_ms: float | None
