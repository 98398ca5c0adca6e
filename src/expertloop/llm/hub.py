"""One process's model clients, built once per endpoint version and reused."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

from expertloop.errors import ExpertLoopError
from expertloop.llm.batch import run_batch
from expertloop.llm.config import EndpointConfig, Runtime
from expertloop.llm.interface import (
    ChatMessage,
    Completion,
    GenerationParams,
    ModelClient,
    ModelRequest,
    RunStatus,
    StreamEvent,
    TextDelta,
)
from expertloop.llm.models import ModelEndpoint
from expertloop.llm.registry import build_client
from expertloop.llm.secrets_box import SecretBox
from expertloop.llm.ssrf import AddressPolicy
from expertloop.settings import Settings

log = logging.getLogger("expertloop.llm")

# What "test" sends to an endpoint (API, page and CLI alike).
TEST_REQUEST = ModelRequest(
    (ChatMessage("user", "Reply with the single word: ready"),), GenerationParams(max_tokens=16)
)


def runtime_from_settings(settings: Settings) -> Runtime:
    """Return the model-call limits configured in ``settings``."""
    return Runtime(
        policy=AddressPolicy.from_settings(
            settings.allow_private_endpoints, settings.private_endpoint_networks
        ),
        connect_timeout=settings.llm_connect_timeout,
        read_timeout=settings.llm_read_timeout,
        max_retries=settings.llm_max_retries,
        retry_base_delay=settings.llm_retry_base_delay,
        retry_max_delay=settings.llm_retry_max_delay,
        max_response_bytes=settings.llm_max_response_bytes,
        local_model_path=settings.local_model_path,
        local_threads=settings.local_model_threads,
    )


def params_from_dict(values: dict[str, object] | None) -> GenerationParams:
    """Build generation parameters from a stored or submitted dict (unknown keys ignored)."""
    values = values or {}
    known = GenerationParams.__dataclass_fields__
    return GenerationParams(**{k: v for k, v in values.items() if k in known})  # type: ignore[arg-type]


def _failed(reason: str, partial: str) -> Completion:
    return Completion(
        text=partial,
        status=RunStatus.incomplete if partial else RunStatus.failed,
        error=reason,
        attempts=0,
    )


class ModelHub:
    """Build clients for endpoints (decrypting keys) and keep them for reuse."""

    def __init__(self, runtime: Runtime, box: SecretBox) -> None:
        self.runtime = runtime
        self.box = box
        self._clients: dict[tuple[int, int], ModelClient] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelHub:
        """Return a hub for these settings."""
        return cls(
            runtime_from_settings(settings), SecretBox(settings.secret_key.get_secret_value())
        )

    def config_for(self, endpoint: ModelEndpoint) -> EndpointConfig:
        """Return the provider configuration of an endpoint, key decrypted."""
        return EndpointConfig(
            provider=endpoint.provider,
            model_id=endpoint.model_id,
            base_url=endpoint.base_url,
            api_key=self.box.decrypt(endpoint.api_key_encrypted)
            if endpoint.api_key_encrypted
            else None,
            defaults=params_from_dict(endpoint.defaults),
            options=dict(endpoint.options or {}),
        )

    def client_for(self, endpoint: ModelEndpoint) -> ModelClient:
        """Return the (cached) client for this version of the endpoint."""
        key = (endpoint.id, endpoint.version)
        if key not in self._clients:
            # An edited endpoint gets a new client; the old version's is dropped (its
            # connections close when it is garbage-collected).
            for old in [k for k in self._clients if k[0] == endpoint.id]:
                del self._clients[old]
            self._clients[key] = build_client(self.config_for(endpoint), self.runtime)
        return self._clients[key]

    async def stream(
        self, endpoint: ModelEndpoint, request: ModelRequest
    ) -> AsyncGenerator[StreamEvent, None]:
        """Stream an answer; whatever goes wrong ends as a failed ``Completion``, never raises."""
        text: list[str] = []
        try:
            client = self.client_for(endpoint)
            async for event in client.stream(request):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                yield event
        except ExpertLoopError as exc:  # unusable endpoint: key undecryptable, model missing…
            yield _failed(exc.message, "".join(text))
        except Exception as exc:  # a provider bug must not cost the expert their run
            log.exception("model call to endpoint %s failed", endpoint.id)
            yield _failed(
                f"The model connection failed unexpectedly ({type(exc).__name__}).", "".join(text)
            )

    async def complete(self, endpoint: ModelEndpoint, request: ModelRequest) -> Completion:
        """Return the whole answer; whatever goes wrong ends as a failed ``Completion``."""
        try:
            return await self.client_for(endpoint).complete(request)
        except ExpertLoopError as exc:
            return _failed(exc.message, "")
        except Exception as exc:
            log.exception("model call to endpoint %s failed", endpoint.id)
            return _failed(f"The model connection failed unexpectedly ({type(exc).__name__}).", "")

    async def run_batch(
        self,
        endpoint: ModelEndpoint,
        requests: Sequence[ModelRequest],
        *,
        concurrency: int = 8,
        on_done: Callable[[int, Completion], Awaitable[None] | None] | None = None,
    ) -> list[Completion]:
        """Run many requests on one endpoint within its configured rate limit."""
        return await run_batch(
            self.client_for(endpoint),
            requests,
            concurrency=concurrency,
            rate_per_second=endpoint.rate_limit_per_second,
            on_done=on_done,
        )

    async def aclose(self) -> None:
        """Close every client's connections."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
