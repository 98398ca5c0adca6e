"""Recognise "the prompt does not fit the model's context window" and say so in one sentence,
the same for the local model and for any OpenAI-compatible endpoint."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# llama-cpp-python's own refusal (llama.py, before any token is generated).
_LLAMA_CPP = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")

# How servers phrase it: OpenAI and llama-cpp-python's server ("maximum context length is M
# tokens. However, your messages resulted in N tokens"), vLLM ("you requested T tokens (N in the
# messages, K in the completion)", "your request has N input tokens", "'max_tokens' ... is too
# large: K"), llama.cpp's server ("exceeds the available context size"), TGI ("`inputs` tokens +
# `max_new_tokens` must be <= M. Given: N `inputs` tokens and K `max_new_tokens`") and
# Anthropic-style gateways ("prompt is too long: N tokens > M maximum").
_MENTIONS = re.compile(
    r"context[ _-]?(length|window|size)|maximum context|prompt is too long|too many tokens"
    r"|max_new_tokens` must be",
    re.IGNORECASE,
)
_ALLOWED = (
    re.compile(r"maximum context length is (\d+)", re.IGNORECASE),
    re.compile(r"context window of (\d+)", re.IGNORECASE),
    re.compile(r"(\d+) maximum", re.IGNORECASE),
    re.compile(r"must be <= (\d+)", re.IGNORECASE),
    re.compile(r"limit of (\d+) tokens", re.IGNORECASE),
)
_PROMPT = (
    re.compile(r"(\d+) in the messages", re.IGNORECASE),
    re.compile(r"resulted in (\d+) tokens", re.IGNORECASE),
    re.compile(r"has (\d+) input tokens", re.IGNORECASE),
    re.compile(r"Given: (\d+) `inputs` tokens", re.IGNORECASE),
    re.compile(r"too long: (\d+) tokens", re.IGNORECASE),
    re.compile(r"requested (\d+) tokens", re.IGNORECASE),
)
_ANSWER = (
    re.compile(r"(\d+) in the completion", re.IGNORECASE),
    re.compile(r"is too large: (\d+)", re.IGNORECASE),
    re.compile(r"(\d+) `max_new_tokens`", re.IGNORECASE),
)
_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})


@dataclass(frozen=True)
class ContextOverflow:
    """What is known of a prompt that did not fit: each figure None when not given."""

    prompt_tokens: int | None = None
    allowed: int | None = None
    answer_tokens: int | None = None

    def reason(self) -> str:
        """Return the sentence shown to the expert."""
        n, m, k = self.prompt_tokens, self.allowed, self.answer_tokens
        if n is not None and m is not None and k is not None and n < m:
            return (
                "The prompt and the answer's token budget do not fit the model's context "
                f"window: {n:,} + {k:,} tokens, the model allows {m:,}. Lower max_tokens or "
                "shorten the prompt."
            )
        if n is not None and m is not None:
            return (
                f"The prompt is longer than the model's context window: {n:,} tokens, "
                f"the model allows {m:,}."
            )
        if m is not None:
            return (
                "The prompt is longer than the model's context window: the model allows "
                f"{m:,} tokens."
            )
        return "The prompt is longer than the model's context window."


def from_llama_cpp(exc: BaseException) -> ContextOverflow | None:
    """Return the overflow llama-cpp-python reported with ``exc``, None for any other error."""
    if not isinstance(exc, ValueError):
        return None
    match = _LLAMA_CPP.search(str(exc))
    if match is None:
        return None
    return ContextOverflow(int(match.group(1)), int(match.group(2)))


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> int | None:
    for pattern in patterns:
        match = pattern.search(text)
        if match:
            return int(match.group(1))
    return None


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def from_response(status: int | None, body: str) -> ContextOverflow | None:
    """Return the overflow an endpoint's error body describes, None for any other error."""
    if status is not None and status not in (400, 413, 422):
        return None
    error: Any = None
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, RecursionError):
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error", payload)
    fields = error if isinstance(error, dict) else {}
    message = str(fields.get("message") or (error if isinstance(error, str) else body))
    coded = fields.get("code") in _CODES or fields.get("type") in _CODES
    if not coded and not _MENTIONS.search(message):
        return None
    return ContextOverflow(
        prompt_tokens=_as_int(fields.get("n_prompt_tokens")) or _first(_PROMPT, message),
        allowed=_as_int(fields.get("n_ctx")) or _first(_ALLOWED, message),
        answer_tokens=_first(_ANSWER, message),
    )
