"""A prompt over the context window of a real OpenAI-compatible server (llama-cpp-python's own,
serving the bundled model with a 2,048-token window) ends with the figures the server gave."""

from __future__ import annotations

import asyncio
import re

import pytest

from expertloop.llm.interface import ChatMessage, Completion, ModelRequest, RunStatus
from tests.integration.test_llama_server import _client, llama_server

__all__ = ["llama_server"]  # the fixture, shared with the other server tests

TOO_LONG = ModelRequest((ChatMessage("user", "Forecast the budget line by line. " * 600),))


@pytest.mark.parametrize("stream", [True, False])
def test_the_real_servers_refusal_is_translated(llama_server: str, stream: bool) -> None:
    async def run() -> Completion:
        client = _client(llama_server)
        try:
            if stream:
                final = None
                async for event in client.stream(TOO_LONG):
                    final = event
                assert isinstance(final, Completion)
                return final
            return await client.complete(TOO_LONG)
        finally:
            await client.aclose()

    final = asyncio.run(run())
    assert final.status is RunStatus.failed
    assert final.error is not None
    match = re.fullmatch(
        r"The prompt is longer than the model's context window: ([\d,]+) tokens, "
        r"the model allows 2,048\.",
        final.error,
    )
    assert match, (final.error, final.upstream_error)
    assert int(match.group(1).replace(",", "")) > 2048
