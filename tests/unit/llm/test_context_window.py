"""A prompt over the model's context window ends as one clear sentence (tokens used, tokens
allowed), from the local llama-cpp model and from OpenAI-compatible endpoints alike."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from expertloop.llm import context
from expertloop.llm.config import EndpointConfig, Runtime
from expertloop.llm.interface import ChatMessage, Completion, ModelRequest, RunStatus
from expertloop.llm.providers import local
from tests.unit.llm.client_call import call
from tests.unit.llm.fault_server import FaultServer, json_response, sse_event, sse_response

LONG = "The prompt is longer than the model's context window: 5,000 tokens, the model allows 2,048."


class FakeLlama:
    """Stands in for llama_cpp.Llama: refuses like it does, or answers one chunk."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        # Like llama-cpp-python, the refusal comes when the stream is first read.
        if self.error is not None:
            raise self.error
        yield {"choices": [{"delta": {"content": "Hi"}, "finish_reason": "stop"}]}

    def tokenize(self, data: bytes) -> list[int]:
        return list(range(len(data.split())))


def run_local(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: Exception | None
) -> Completion:
    monkeypatch.setattr(local, "load_model", lambda *args: FakeLlama(error))
    client = local.LocalLlamaClient(
        EndpointConfig(provider="local", model_id="smollm2"),
        Runtime(local_model_path=tmp_path / "model.gguf", local_context=2048),
    )
    request = ModelRequest((ChatMessage("user", "word " * 5000),))
    return asyncio.run(client.complete(request))


def test_local_refusal_is_translated_exactly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The message llama-cpp-python 0.3 raises (llama.py, _create_completion).
    refusal = ValueError("Requested tokens (5000) exceed context window of 2048")
    completion = run_local(monkeypatch, tmp_path, refusal)
    assert completion.status is RunStatus.failed
    assert completion.error == LONG
    assert completion.upstream_error == str(refusal)


def test_other_local_errors_keep_their_generic_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    completion = run_local(monkeypatch, tmp_path, ValueError("something else"))
    assert completion.error == "The local model failed: ValueError."
    assert run_local(monkeypatch, tmp_path, None).status is RunStatus.ok


def test_the_real_llama_cpp_message_still_matches() -> None:
    # Guards the translation against the installed library's wording (read, not imported).
    spec = importlib.util.find_spec("llama_cpp")
    assert spec is not None and spec.origin is not None
    llama_py = Path(spec.origin).parent / "llama.py"
    wording = 'f"Requested tokens ({len(prompt_tokens)}) exceed context window of {'
    assert wording in llama_py.read_text()


OPENAI_BODY = {
    "error": {
        "message": "This model's maximum context length is 2048 tokens. However, your messages "
        "resulted in 5000 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}


@pytest.mark.parametrize("stream", [True, False])
def test_openai_context_length_exceeded(fault_server: FaultServer, stream: bool) -> None:
    fault_server.enqueue(json_response(400, OPENAI_BODY))
    outcome = call(fault_server.base_url, stream=stream)
    c = outcome.completion
    assert c.status is RunStatus.failed
    assert c.error == LONG
    assert c.attempts == 1  # a 400 is never retried
    assert c.upstream_error and "context_length_exceeded" in c.upstream_error


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        # llama.cpp's server.
        (
            {
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                    "n_prompt_tokens": 5000,
                    "n_ctx": 2048,
                }
            },
            LONG,
        ),
        # vLLM (older wording).
        (
            {
                "object": "error",
                "message": "This model's maximum context length is 2048 tokens. However, you "
                "requested 5100 tokens (5000 in the messages, 100 in the completion). Please "
                "reduce the length of the messages or completion.",
                "type": "BadRequestError",
                "code": 400,
            },
            LONG,
        ),
        # vLLM when the prompt fits but max_tokens does not.
        (
            {
                "object": "error",
                "message": "'max_tokens' or 'max_completion_tokens' is too large: 500. This "
                "model's maximum context length is 2048 tokens and your request has 1800 "
                "input tokens (500 > 2048 - 1800).",
                "type": "BadRequestError",
                "code": 400,
            },
            "The prompt and the answer's token budget do not fit the model's context window: "
            "1,800 + 500 tokens, the model allows 2,048. Lower max_tokens or shorten the prompt.",
        ),
        # A server that gives no figures.
        (
            {"error": {"message": "Prompt exceeds the context window.", "type": "invalid"}},
            "The prompt is longer than the model's context window.",
        ),
    ],
)
def test_other_servers_wordings(
    fault_server: FaultServer, body: dict[str, Any], reason: str
) -> None:
    fault_server.enqueue(json_response(400, body))
    assert call(fault_server.base_url).completion.error == reason


def test_an_unrelated_400_keeps_its_reason(fault_server: FaultServer) -> None:
    fault_server.enqueue(json_response(400, {"error": {"message": "Unknown model 'm'."}}))
    assert call(fault_server.base_url).completion.error == "The endpoint answered HTTP 400."


def test_a_context_error_event_mid_stream(fault_server: FaultServer) -> None:
    fault_server.enqueue(sse_response([sse_event(OPENAI_BODY)]))
    c = call(fault_server.base_url).completion
    assert c.status is RunStatus.failed
    assert c.error == LONG


def test_parsing_needs_a_context_error() -> None:
    assert context.from_response(500, '{"error": {"message": "context length"}}') is None
    assert context.from_response(400, "not json, and about something else") is None
    overflow = context.from_response(413, "Prompt is too long: 9000 tokens > 8192 maximum")
    assert overflow == context.ContextOverflow(9000, 8192, None)


def test_an_empty_stream_is_asked_again_without_streaming(fault_server: FaultServer) -> None:
    # What llama-cpp-python's server does with a prompt over its window when streaming.
    fault_server.enqueue(sse_response([]), json_response(400, OPENAI_BODY))
    c = call(fault_server.base_url, stream=True).completion
    assert c.error == LONG
    assert c.raw_request["body"]["stream"] is False
    assert fault_server.pending == 0
