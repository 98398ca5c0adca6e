"""Shared pieces for the benchmarks: a tiny OpenAI-compatible stub server and statistics.

The stub is a raw asyncio HTTP/1.1 server with canned answers (the cheapest server we can
write in Python): it reads a request head and its Content-Length body, optionally sleeps a fixed
delay, then answers either a small chat completion (JSON, for ``"stream": false``) or a short
SSE stream (chunked, for ``"stream": true``). Connections are kept alive. It listens on
127.0.0.1 only, on a free port, and runs in its own process (``StubProcess``) so that the
client under test does not share its event loop or its CPU time with the server.

Nothing here is part of ExpertLoop; the benchmarks import it as ``common``.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing as mp
import os
import re
import resource
import socket
import sys
from pathlib import Path
from typing import Any

# Make ``import expertloop`` work when run as ``.venv/bin/python bench/NAME.py`` from the repo
# root even if the package is not installed in the venv (it normally is, editable).
_SRC = Path(__file__).resolve().parent.parent / "src"
if _SRC.is_dir() and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

HOST = "127.0.0.1"
MODEL = "stub-model"

# -- canned answers ----------------------------------------------------------------------------

_COMPLETION = {
    "id": "chatcmpl-stub",
    "object": "chat.completion",
    "created": 1700000000,
    "model": MODEL,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! This is the stub answering."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


_STREAM_EVENTS: list[dict[str, Any]] = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": "Hello!"}),
    _chunk({"content": " This is"}),
    _chunk({"content": " the stub"}),
    _chunk({"content": " answering."}),
    _chunk({}, "stop"),
    {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": MODEL,
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    },
]
STREAM_TEXT = "".join(e["choices"][0]["delta"].get("content", "") for e in _STREAM_EVENTS[:5])
JSON_TEXT = _COMPLETION["choices"][0]["message"]["content"]


def _build_responses() -> tuple[bytes, bytes]:
    body = json.dumps(_COMPLETION, separators=(",", ":")).encode()
    json_response = (
        b"HTTP/1.1 200 OK\r\n"
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: keep-alive\r\n\r\n" + body
    )
    parts = [
        b"HTTP/1.1 200 OK\r\n"
        b"content-type: text/event-stream\r\n"
        b"cache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n"
        b"connection: keep-alive\r\n\r\n"
    ]
    events = [json.dumps(e, separators=(",", ":")) for e in _STREAM_EVENTS] + ["[DONE]"]
    for data in events:
        payload = f"data: {data}\n\n".encode()
        parts.append(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
    parts.append(b"0\r\n\r\n")
    return json_response, b"".join(parts)


JSON_RESPONSE, SSE_RESPONSE = _build_responses()
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
_STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


# -- the server --------------------------------------------------------------------------------


class _StubProtocol(asyncio.Protocol):
    """One connection: parse pipelined-safe HTTP/1.1 requests from a buffer, answer canned."""

    def __init__(self, delay: float, stats: dict[str, int]) -> None:
        self.delay = delay
        self.stats = stats
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.pending = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (asyncio and uvloop set TCP_NODELAY)
        self.stats["connections"] += 1
        self.stats["open"] += 1
        self.stats["max_open"] = max(self.stats["max_open"], self.stats["open"])

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats["open"] -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[: end + 2]
            match = _CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            total = end + 4 + length
            if len(self.buf) < total:
                return
            body = self.buf[end + 4 : total]
            self.buf = self.buf[total:]
            first = head.split(b"\r\n", 1)[0]
            if first.startswith(b"GET /stats "):
                stats = json.dumps(self.stats).encode()
                self._send(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(stats)).encode()
                    + b"\r\nconnection: keep-alive\r\n\r\n"
                    + stats
                )
                continue
            if b"/chat/completions" not in first:
                answer = _NOT_FOUND
            elif _STREAM_TRUE.search(body):
                answer = SSE_RESPONSE
            else:
                answer = JSON_RESPONSE
            self.stats["requests"] += 1
            if self.delay > 0:
                # Answers go out in request order because every request waits the same delay.
                asyncio.get_running_loop().call_later(self.delay, self._send, answer)
            else:
                self._send(answer)

    def _send(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)


async def serve(delay: float, sock: socket.socket, ready: Any, conn: Any) -> None:
    """Serve on ``sock`` until ``conn`` receives anything; then send stats back and return."""
    stats = {"connections": 0, "open": 0, "max_open": 0, "requests": 0}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _StubProtocol(delay, stats), sock=sock, backlog=1024)
    ready.set()
    while not conn.poll():  # bounded by the parent: it always sends "stop" (or dies)
        await asyncio.sleep(0.05)
        if os.getppid() == 1:  # parent gone
            break
    server.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats["cpu_s"] = usage.ru_utime + usage.ru_stime  # type: ignore[assignment]
    conn.send(stats)


def _server_main(
    delay: float, sock: socket.socket, ready: Any, conn: Any, use_uvloop: bool
) -> None:
    if use_uvloop:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
    asyncio.run(serve(delay, sock, ready, conn))


class StubProcess:
    """The stub server in a child process: ``with StubProcess(delay=0.05) as stub: stub.url``."""

    def __init__(self, delay: float = 0.0, *, use_uvloop: bool = True) -> None:
        self.delay = delay
        self.use_uvloop = use_uvloop
        self.stats: dict[str, Any] = {}
        self._probes = 0

    def __enter__(self) -> StubProcess:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        self.base_url = f"http://{HOST}:{self.port}/v1"
        self.url = f"{self.base_url}/chat/completions"
        self.stats_url = f"http://{HOST}:{self.port}/stats"  # GET: counters so far, as JSON
        ctx = mp.get_context("fork")
        self._ready = ctx.Event()
        self._parent_conn, child_conn = ctx.Pipe()
        self._proc = ctx.Process(
            target=_server_main,
            args=(self.delay, sock, self._ready, child_conn, self.use_uvloop),
            daemon=True,
        )
        self._proc.start()
        sock.close()  # the child has its own copy
        if not self._ready.wait(20):
            self._proc.kill()
            raise RuntimeError("stub server did not start")
        return self

    async def connections(self) -> int:
        """TCP connections the stub has accepted so far, not counting these probes.

        Each probe is one short GET /stats on its own raw asyncio connection (no HTTP library,
        so it does not touch the pools being measured); ask outside the timed part.
        """
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            writer.write(b"GET /stats HTTP/1.1\r\nhost: stub\r\ncontent-length: 0\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            match = _CONTENT_LENGTH.search(head)
            length = int(match.group(1)) if match else 0
            stats = json.loads(await reader.readexactly(length))
        finally:
            writer.close()
        self._probes += 1
        return int(stats["connections"]) - self._probes

    def __exit__(self, *exc: object) -> None:
        try:
            self._parent_conn.send("stop")
            if self._parent_conn.poll(10):
                self.stats = self._parent_conn.recv()
        finally:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(5)


# -- helpers -----------------------------------------------------------------------------------


def loopback_runtime(**overrides: Any) -> Any:
    """A ``Runtime`` whose SSRF policy lets the client reach the loopback stub."""
    from expertloop.llm.config import Runtime
    from expertloop.llm.ssrf import AddressPolicy

    return Runtime(policy=AddressPolicy.from_settings(False, ["127.0.0.1/32"]), **overrides)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def median(values: list[float]) -> float:
    s = sorted(values)
    n = len(s)
    if n == 0:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def machine_line() -> str:
    """One line describing the machine and interpreter, printed at the top of every bench."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with Path("/proc/cpuinfo").open() as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"python {platform.python_version()} | {os.cpu_count()} cores | {cpu}"
