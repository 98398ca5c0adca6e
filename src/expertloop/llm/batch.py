"""Run many prompts against one endpoint with a concurrency limit and a rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from expertloop.llm.interface import Completion, ModelClient, ModelRequest


class RateLimiter:
    """Start at most ``rate`` calls per second (evenly spaced; None or 0 means no limit)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Wait for the next start slot."""
        if not self._interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            await asyncio.sleep(start - now)


async def run_batch(
    client: ModelClient,
    requests: Sequence[ModelRequest],
    *,
    concurrency: int = 8,
    rate_per_second: float | None = None,
    on_done: Callable[[int, Completion], Awaitable[None] | None] | None = None,
) -> list[Completion]:
    """Return the completions in request order; ``on_done(index, completion)`` as each ends."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    semaphore = asyncio.Semaphore(concurrency)
    limiter = RateLimiter(rate_per_second)
    results: list[Completion | None] = [None] * len(requests)

    async def one(index: int, request: ModelRequest) -> None:
        async with semaphore:
            await limiter.wait()
            completion = await client.complete(request)
        results[index] = completion
        if on_done is not None:
            maybe = on_done(index, completion)
            if maybe is not None:
                await maybe

    async with asyncio.TaskGroup() as group:
        for index, request in enumerate(requests):
            group.create_task(one(index, request))
    return [r for r in results if r is not None]
