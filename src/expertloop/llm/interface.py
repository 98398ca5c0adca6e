"""The ModelClient interface every provider implements, and the values it exchanges."""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


class RunStatus(enum.StrEnum):
    """How a model call ended."""

    ok = "ok"
    failed = "failed"
    incomplete = "incomplete"


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters; None means the endpoint's own default."""

    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    top_p: float | None = None
    system_prompt: str | None = None

    def merged_over(self, defaults: GenerationParams) -> GenerationParams:
        """Return these parameters with unset ones taken from ``defaults``."""
        values = {
            name: getattr(self, name)
            if getattr(self, name) is not None
            else getattr(defaults, name)
            for name in self.__dataclass_fields__
        }
        return GenerationParams(**values)

    def as_dict(self) -> dict[str, Any]:
        """Return the set parameters as a plain dict."""
        return {
            k: getattr(self, k) for k in self.__dataclass_fields__ if getattr(self, k) is not None
        }


@dataclass(frozen=True)
class ModelRequest:
    """One chat request: the conversation and how to sample."""

    messages: tuple[ChatMessage, ...]
    params: GenerationParams = field(default_factory=GenerationParams)

    def full_messages(self) -> list[ChatMessage]:
        """Return the messages with the system prompt (if any) first."""
        msgs = list(self.messages)
        if self.params.system_prompt and not (msgs and msgs[0].role == "system"):
            msgs.insert(0, ChatMessage("system", self.params.system_prompt))
        return msgs


@dataclass
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class Completion:
    """A whole answer with everything kept for provenance."""

    text: str
    status: RunStatus
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_ms: float | None = None
    ttft_ms: float | None = None
    error: str | None = None  # a reason safe to show to any user
    upstream_error: str | None = None  # the endpoint's own error body: operators only
    raw_request: dict[str, Any] = field(default_factory=dict)
    raw_response: Any = None
    attempts: int = 1


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text as it arrives."""

    text: str


StreamEvent = TextDelta | Completion


class ModelClient(abc.ABC):
    """A connection to one model. ``stream`` yields deltas then exactly one ``Completion``."""

    @abc.abstractmethod
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        """Yield ``TextDelta`` values as text arrives, then the final ``Completion``."""

    async def complete(self, request: ModelRequest) -> Completion:
        """Return the whole answer (drains ``stream``)."""
        final: Completion | None = None
        async for event in self.stream(request):
            if isinstance(event, Completion):
                final = event
        if final is None:  # a provider bug; never leave the caller without an answer
            return Completion(text="", status=RunStatus.failed, error="The model gave no answer.")
        return final

    async def aclose(self) -> None:
        """Release connections (default: nothing to release)."""
        return None
