"""Deterministic answers for tests and offline demos."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from expertloop.llm.config import EndpointConfig, Runtime
from expertloop.llm.interface import (
    Completion,
    ModelClient,
    ModelRequest,
    RunStatus,
    StreamEvent,
    TextDelta,
    Usage,
)


class ScriptedClient(ModelClient):
    """Answer from a script: ``options["answers"]`` maps a substring of the last user message
    to an answer; otherwise echo. ``options["delay"]`` seconds between words (default 0)."""

    def __init__(self, config: EndpointConfig, runtime: Runtime) -> None:
        self.config = config
        answers = config.options.get("answers", {})
        self.answers: dict[str, str] = dict(answers) if isinstance(answers, dict) else {}
        delay = config.options.get("delay", 0)
        self.delay = float(delay) if isinstance(delay, int | float | str) else 0.0

    def answer_for(self, request: ModelRequest) -> str:
        """Return the scripted answer for a request."""
        last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        for key, answer in self.answers.items():
            if key in last:
                return answer
        return f"Scripted answer to: {last}"

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        started = time.monotonic()
        text = self.answer_for(request)
        words = text.split(" ")
        ttft = None
        for i, word in enumerate(words):
            if self.delay:
                await asyncio.sleep(self.delay)
            if ttft is None:
                ttft = (time.monotonic() - started) * 1000
            yield TextDelta(word if i == 0 else " " + word)
        prompt_tokens = sum(len(m.content.split()) for m in request.full_messages())
        yield Completion(
            text=text,
            status=RunStatus.ok,
            finish_reason="stop",
            usage=Usage(prompt_tokens, len(words)),
            latency_ms=(time.monotonic() - started) * 1000,
            ttft_ms=ttft,
            raw_request={"provider": "scripted", "model": self.config.model_id},
            raw_response={"answer": text},
        )
