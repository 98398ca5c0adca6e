"""Against a real OpenAI-compatible server: llama-cpp-python's own server serving the bundled
GGUF on 127.0.0.1, and the local in-process provider producing real text."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from expertloop.llm.config import EndpointConfig, Runtime
from expertloop.llm.interface import (
    ChatMessage,
    Completion,
    GenerationParams,
    ModelRequest,
    RunStatus,
    TextDelta,
)
from expertloop.llm.providers.local import bundled_model_path
from expertloop.llm.registry import build_client
from expertloop.llm.ssrf import AddressPolicy

REQUEST = ModelRequest(
    (ChatMessage("user", "What is the capital of France? Answer in one short sentence."),),
    GenerationParams(temperature=0.0, max_tokens=32, seed=1),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `python -m llama_cpp.server` on the bundled model; yield its /v1 URL."""
    port = _free_port()
    # The server logs a lot; a pipe nobody reads would fill up and stall it.
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(bundled_model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--model_alias",
            "smollm2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("llama_cpp.server did not start within 120 s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _client(base_url: str):  # type: ignore[no-untyped-def]
    runtime = Runtime(policy=AddressPolicy.from_settings(False, ["127.0.0.1/32"]))
    return build_client(
        EndpointConfig(provider="openai_compatible", base_url=base_url, model_id="smollm2"),
        runtime,
    )


def test_streaming_against_llama_server(llama_server: str) -> None:
    async def run() -> tuple[list[str], Completion]:
        client = _client(llama_server)
        deltas: list[str] = []
        final = None
        async for event in client.stream(REQUEST):
            if isinstance(event, TextDelta):
                deltas.append(event.text)
            else:
                final = event
        await client.aclose()
        assert final is not None
        return deltas, final

    deltas, final = asyncio.run(run())
    assert final.status == RunStatus.ok, (final.error, final.upstream_error)
    assert len(deltas) > 1, "the answer should arrive in pieces"
    assert "".join(deltas) == final.text
    assert "paris" in final.text.lower()
    assert final.finish_reason in ("stop", "length")
    assert final.ttft_ms is not None and final.latency_ms is not None
    assert final.ttft_ms <= final.latency_ms
    assert final.raw_request["body"]["stream"] is True


def test_non_streaming_against_llama_server(llama_server: str) -> None:
    async def run() -> Completion:
        client = _client(llama_server)
        try:
            return await client.complete(REQUEST)
        finally:
            await client.aclose()

    final = asyncio.run(run())
    assert final.status == RunStatus.ok, (final.error, final.upstream_error)
    assert "paris" in final.text.lower()
    assert final.usage.prompt_tokens and final.usage.completion_tokens
    assert final.raw_request["body"]["stream"] is False


def test_local_provider_produces_real_text() -> None:
    async def run() -> tuple[list[str], Completion]:
        client = build_client(EndpointConfig(provider="local", model_id="smollm2"), Runtime())
        deltas: list[str] = []
        final = None
        async for event in client.stream(REQUEST):
            if isinstance(event, TextDelta):
                deltas.append(event.text)
            else:
                final = event
        assert final is not None
        return deltas, final

    deltas, final = asyncio.run(run())
    assert final.status == RunStatus.ok, final.error
    assert "paris" in final.text.lower()
    assert "".join(deltas) == final.text
    assert final.usage.completion_tokens and final.usage.completion_tokens > 1


def test_local_provider_serves_concurrent_requests_in_order() -> None:
    async def run() -> list[Completion]:
        client = build_client(EndpointConfig(provider="local", model_id="smollm2"), Runtime())
        short = ModelRequest(REQUEST.messages, GenerationParams(temperature=0, max_tokens=8))
        return list(await asyncio.gather(*(client.complete(short) for _ in range(3))))

    results = asyncio.run(run())
    assert all(r.status == RunStatus.ok and r.text for r in results)
    # Deterministic sampling: the same request gives the same answer each time.
    assert len({r.text for r in results}) == 1
