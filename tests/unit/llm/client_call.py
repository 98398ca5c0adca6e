"""Run the OpenAI-compatible client against a test server and collect what it yields."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from expertloop.llm.config import EndpointConfig, Runtime
from expertloop.llm.interface import ChatMessage, Completion, ModelRequest, TextDelta
from expertloop.llm.providers.openai_compatible import OpenAICompatibleClient
from expertloop.llm.ssrf import AddressPolicy

API_KEY = "sk-test-KEY"
HARD_LIMIT = 15.0  # no client call may take longer, whatever the fault
LOOPBACK_ONLY = AddressPolicy.from_settings(False, ["127.0.0.1/32"])
REQUEST = ModelRequest((ChatMessage("user", "Say hello"),))


@dataclass
class Outcome:
    """What one call produced: the final Completion, the deltas before it, and its duration."""

    completion: Completion
    deltas: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    events_after_final: int = 0


def make_runtime(**overrides: Any) -> Runtime:
    """Return a fast Runtime that allows only 127.0.0.1 (overridable)."""
    values: dict[str, Any] = {
        "policy": LOOPBACK_ONLY,
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.2,
        "read_timeout": 2.0,
        "connect_timeout": 1.0,
        "max_retries": 2,
        "max_response_bytes": 1_000_000,
    }
    values.update(overrides)
    return Runtime(**values)


def call(
    base_url: str,
    *,
    stream: bool = True,
    api_key: str | None = API_KEY,
    options: dict[str, object] | None = None,
    messages: Sequence[ChatMessage] = REQUEST.messages,
    **runtime: Any,
) -> Outcome:
    """Call the endpoint once (streaming or not) and return the outcome; never hangs."""
    config = EndpointConfig(
        provider="openai_compatible",
        base_url=base_url,
        model_id="m",
        api_key=api_key,
        options=options or {},
    )
    client = OpenAICompatibleClient(config, make_runtime(**runtime))
    request = ModelRequest(tuple(messages))

    async def go() -> Outcome:
        started = time.monotonic()
        try:
            if not stream:
                completion = await client.complete(request)
                return Outcome(completion, elapsed=time.monotonic() - started)
            deltas: list[str] = []
            final: Completion | None = None
            after = 0
            async for event in client.stream(request):
                if final is not None:
                    after += 1
                elif isinstance(event, TextDelta):
                    deltas.append(event.text)
                else:
                    final = event
            assert final is not None, "the stream ended without a Completion"
            return Outcome(final, deltas, time.monotonic() - started, after)
        finally:
            await client.aclose()

    async def bounded() -> Outcome:
        async with asyncio.timeout(HARD_LIMIT):
            return await go()

    return asyncio.run(bounded())
