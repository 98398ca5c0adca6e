"""A small OpenAI-compatible server for API tests, on 127.0.0.1 in a background thread.

The model id picks the behaviour: ``echo-auth`` answers 401 with the Authorization header it
received in the body (to prove keys are scrubbed); anything else answers "Stub answer to: …".
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


async def chat(request: Request) -> Response:
    body = await request.json()
    model = body.get("model", "")
    if model == "echo-auth":
        return JSONResponse(
            {"error": {"message": f"bad key: {request.headers.get('authorization')}"}},
            status_code=401,
        )
    last = body["messages"][-1]["content"]
    words = f"Stub answer to: {last}".split(" ")
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": "x",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": " ".join(words)},
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": len(words)},
            }
        )

    async def events() -> AsyncIterator[bytes]:
        for i, word in enumerate(words):
            chunk = {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": word if i == 0 else " " + word},
                        "finish_reason": None,
                    }
                ]
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield f"data: {json.dumps(done)}\n\n".encode()
        yield b'data: {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 4}}\n\n'
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_stub() -> Iterator[str]:
    """Serve the stub; yield its base URL (…/v1)."""
    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
