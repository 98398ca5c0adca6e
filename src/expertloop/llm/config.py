"""What a provider needs to know: the endpoint, and the runtime limits from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from expertloop.llm.interface import GenerationParams
from expertloop.llm.ssrf import AddressPolicy


@dataclass(frozen=True)
class EndpointConfig:
    """One configured model endpoint, with its API key decrypted (never logged)."""

    provider: str
    model_id: str
    base_url: str = ""
    api_key: str | None = field(default=None, repr=False)
    defaults: GenerationParams = field(default_factory=GenerationParams)
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Runtime:
    """Limits and policies shared by every client of one process."""

    policy: AddressPolicy = field(default_factory=AddressPolicy)
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 3
    retry_base_delay: float = 0.5
    retry_max_delay: float = 20.0
    max_response_bytes: int = 4_000_000
    local_model_path: Path | None = None
    local_threads: int | None = None
    local_context: int = 4096
