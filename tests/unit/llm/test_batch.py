"""run_batch: request order, the concurrency limit and the rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from expertloop.llm.batch import RateLimiter, run_batch
from expertloop.llm.config import EndpointConfig, Runtime
from expertloop.llm.interface import (
    ChatMessage,
    Completion,
    ModelClient,
    ModelRequest,
    RunStatus,
    StreamEvent,
)
from expertloop.llm.providers.scripted import ScriptedClient
from expertloop.llm.registry import build_client


def scripted(delay: float = 0.01) -> ModelClient:
    client = build_client(
        EndpointConfig(provider="scripted", model_id="s", options={"delay": delay}), Runtime()
    )
    assert isinstance(client, ScriptedClient)
    return client


def prompt(i: int, words: int = 1) -> ModelRequest:
    return ModelRequest((ChatMessage("user", f"prompt-{i}" + " w" * (words - 1)),))


class Counting(ModelClient):
    """Wrap a client; count calls in flight and note when each started."""

    def __init__(self, inner: ModelClient) -> None:
        self.inner = inner
        self.in_flight = 0
        self.peak = 0
        self.starts: list[float] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.starts.append(time.monotonic())
        try:
            async for event in self.inner.stream(request):
                yield event
        finally:
            self.in_flight -= 1


def run(coro):  # type: ignore[no-untyped-def]
    async def bounded():  # type: ignore[no-untyped-def]
        async with asyncio.timeout(15):
            return await coro

    return asyncio.run(bounded())


def test_results_keep_request_order_even_when_they_finish_out_of_order() -> None:
    # Earlier prompts have more words, so they take longer and finish last.
    requests = [prompt(i, words=8 - i) for i in range(8)]
    finished: list[int] = []

    results = run(
        run_batch(scripted(), requests, concurrency=8, on_done=lambda i, c: finished.append(i))
    )

    assert len(results) == len(requests)
    for i, completion in enumerate(results):
        assert completion.status is RunStatus.ok
        assert completion.text.startswith(f"Scripted answer to: prompt-{i}")
    assert sorted(finished) == list(range(8))
    assert finished != list(range(8))  # they really did finish out of order


def test_on_done_may_be_async() -> None:
    seen: dict[int, Completion] = {}

    async def on_done(i: int, c: Completion) -> None:
        await asyncio.sleep(0)
        seen[i] = c

    results = run(run_batch(scripted(0), [prompt(i) for i in range(5)], on_done=on_done))

    assert [seen[i] for i in range(5)] == results


@pytest.mark.parametrize("concurrency", [1, 3, 5])
def test_concurrency_limit_is_never_exceeded(concurrency: int) -> None:
    client = Counting(scripted(0.01))
    requests = [prompt(i) for i in range(8)]

    results = run(run_batch(client, requests, concurrency=concurrency))

    assert len(results) == 8
    assert client.peak == concurrency  # reached, never exceeded
    assert client.in_flight == 0


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        run(run_batch(scripted(), [prompt(0)], concurrency=0))


def test_rate_limit_spaces_the_starts() -> None:
    client = Counting(scripted(0.01))
    started = time.monotonic()

    results = run(
        run_batch(client, [prompt(i) for i in range(10)], concurrency=10, rate_per_second=50)
    )

    elapsed = time.monotonic() - started
    assert len(results) == 10
    assert elapsed >= 0.17  # 9 gaps of 20 ms
    # The i-th start waits for its slot, 20 ms after the one before (5 ms of slack for the
    # first start's own bookkeeping).
    starts = sorted(client.starts)
    for i, start in enumerate(starts):
        assert start - starts[0] >= 0.02 * i - 0.005, (i, start - starts[0])


def test_no_rate_limit_starts_at_once() -> None:
    limiter = RateLimiter(None)

    async def ten_waits() -> float:
        started = time.monotonic()
        for _ in range(10):
            await limiter.wait()
        return time.monotonic() - started

    assert run(ten_waits()) < 0.05


def test_empty_batch() -> None:
    assert run(run_batch(scripted(), [])) == []


def test_hub_batch_uses_the_endpoints_rate_limit() -> None:
    import time

    from expertloop.llm.hub import ModelHub
    from expertloop.llm.models import ModelEndpoint
    from expertloop.settings import Settings

    hub = ModelHub.from_settings(Settings(env="test"))
    endpoint = ModelEndpoint(
        id=1,
        version=1,
        name="s",
        provider="scripted",
        model_id="s",
        base_url="",
        defaults={},
        options={},
        rate_limit_per_second=40.0,
    )
    requests = [ModelRequest((ChatMessage("user", f"q{i}"),)) for i in range(9)]

    async def go() -> list[str]:
        started = time.monotonic()
        done = await hub.run_batch(endpoint, requests, concurrency=9)
        elapsed = time.monotonic() - started
        assert elapsed >= 0.19  # 9 starts at 40/s: the last starts 8 x 25 ms after the first
        return [c.text for c in done]

    texts = asyncio.run(go())
    assert texts == [f"Scripted answer to: q{i}" for i in range(9)]


def test_hub_turns_a_provider_crash_into_a_stored_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from expertloop.llm.hub import ModelHub
    from expertloop.llm.interface import Completion, RunStatus, TextDelta
    from expertloop.llm.models import ModelEndpoint
    from expertloop.llm.providers.scripted import ScriptedClient
    from expertloop.settings import Settings

    async def broken(self, request):  # type: ignore[no-untyped-def]
        yield TextDelta("partial")
        raise RuntimeError("provider bug")

    monkeypatch.setattr(ScriptedClient, "stream", broken)
    hub = ModelHub.from_settings(Settings(env="test"))
    endpoint = ModelEndpoint(
        id=2,
        version=1,
        name="s",
        provider="scripted",
        model_id="s",
        base_url="",
        defaults={},
        options={},
    )
    request = ModelRequest((ChatMessage("user", "hi"),))

    async def go() -> list[object]:
        return [event async for event in hub.stream(endpoint, request)]

    events = asyncio.run(go())
    assert events[0] == TextDelta("partial")
    final = events[-1]
    assert isinstance(final, Completion)
    assert final.status is RunStatus.incomplete and final.text == "partial"
    assert "RuntimeError" in (final.error or "")
    whole = asyncio.run(hub.complete(endpoint, request))
    assert whole.status is RunStatus.failed and "RuntimeError" in (whole.error or "")
