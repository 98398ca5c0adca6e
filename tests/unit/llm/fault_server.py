"""A fault-injecting HTTP/1.1 server for model-client tests.

Raw ``asyncio`` streams (no HTTP library) so that a test controls every byte: how a response is
split into writes, the delays between writes, and whether the connection closes cleanly, drops
mid-body or stalls. It runs its own event loop in a daemon thread, bound to 127.0.0.1 (or
another loopback address) on a free port. Each connection serves one request and then closes.

A *scenario* is an ``async`` function ``(conn) -> None`` that writes the response; scenarios are
taken from a FIFO queue, one per request. Builders for the usual ones are below.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Every wait inside the server is bounded so that no test can hang on it.
HEAD_TIMEOUT = 5.0
MAX_STALL = 3.0

Scenario = Callable[["Conn"], Awaitable[None]]

REASONS = {
    200: "OK",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Conn:
    """The server side of one connection, with helpers for writing a response byte by byte."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    request: RecordedRequest
    server: FaultServer
    chunked: bool = field(default=False, init=False)

    async def write(self, data: bytes, *, pause: float = 0.0) -> None:
        """Write ``data`` as one TCP send (Nagle is off), then wait ``pause`` seconds."""
        self.writer.write(data)
        await self.writer.drain()
        if pause:
            await asyncio.sleep(pause)

    async def send_head(
        self,
        status: int,
        headers: Sequence[tuple[str, str]] = (),
        *,
        framing: str = "chunked",
        length: int | None = None,
    ) -> None:
        """Send the status line and headers.

        ``framing``: "chunked" (Transfer-Encoding), "length" (Content-Length: ``length``) or
        "close" (no length; the body ends when the connection closes).
        """
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            self.chunked = True
        elif framing == "length":
            lines.append(f"Content-Length: {length or 0}")
        lines.append("Connection: close")
        await self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def send_body(self, data: bytes, *, pause: float = 0.0) -> None:
        """Write one piece of the body (one HTTP chunk when the framing is chunked)."""
        if self.chunked:
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
        await self.write(data, pause=pause)

    async def end_body(self) -> None:
        """Send the last chunk (chunked framing only); the connection then closes cleanly."""
        if self.chunked:
            await self.write(b"0\r\n\r\n")

    async def wait_for_client_close(self, limit: float = MAX_STALL) -> None:
        """Stall: send nothing until the client hangs up (at most ``limit`` seconds)."""
        try:
            async with asyncio.timeout(limit):
                while await self.reader.read(65536):
                    pass
        except (TimeoutError, ConnectionError):
            pass

    def abort(self) -> None:
        """Drop the connection at once (no last chunk)."""
        self.writer.transport.abort()


class FaultServer:
    """An HTTP server whose every response comes from a queue of scenarios."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # requests that found no scenario, handler crashes
        self._scenarios: collections.deque[Scenario] = collections.deque()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FaultServer:
        """Start listening on a free port in a background thread."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=5)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Close the listener and every open connection; stop the thread."""

        async def _stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    # -- scenarios ------------------------------------------------------------------------

    def enqueue(self, *scenarios: Scenario) -> None:
        """Answer the next requests with ``scenarios``, in order."""
        with self._lock:
            self._scenarios.extend(scenarios)

    @property
    def pending(self) -> int:
        """How many scenarios are still waiting for a request."""
        with self._lock:
            return len(self._scenarios)

    # -- connection handling --------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request = await self._read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            with self._lock:
                scenario = self._scenarios.popleft() if self._scenarios else None
            conn = Conn(reader, writer, request, self)
            if scenario is None:
                self.errors.append(f"no scenario for {request.method} {request.path}")
                await json_response(599, {"error": "no scenario queued"})(conn)
            else:
                await scenario(conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up: part of several faults
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a broken scenario must show up in the test
            self.errors.append(f"handler crashed: {exc!r}")
        finally:
            if not writer.transport.is_closing():
                writer.close()
            self._tasks.discard(task)

    async def _read_request(self, reader: asyncio.StreamReader) -> RecordedRequest | None:
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _version = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        return RecordedRequest(method, path, headers, body)


# -- scenario builders --------------------------------------------------------------------


def json_response(status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> Scenario:
    """Answer ``status`` with a JSON body (Content-Length framing)."""
    return body_response(status, json.dumps(payload).encode(), "application/json", headers)


def body_response(
    status: int,
    body: bytes,
    content_type: str,
    headers: Sequence[tuple[str, str]] = (),
) -> Scenario:
    """Answer ``status`` with ``body`` as is (Content-Length framing)."""

    async def scenario(conn: Conn) -> None:
        all_headers = [("Content-Type", content_type), *headers]
        await conn.send_head(status, all_headers, framing="length", length=len(body))
        await conn.write(body)

    return scenario


def redirect(location: str, status: int = 307) -> Scenario:
    """Answer with a redirect to ``location``."""
    return body_response(status, b"", "text/plain", [("Location", location)])


def sse_event(payload: Any, *, eol: str = "\n") -> bytes:
    """Return one SSE event carrying ``payload`` (JSON-encoded unless it is a string)."""
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}{eol}{eol}".encode()


def delta_chunk(text: str, finish_reason: str | None = None) -> dict[str, Any]:
    """Return an OpenAI-style streaming chunk with ``text`` as the delta."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish_reason}],
    }


def usage_chunk(prompt: int, completion: int) -> dict[str, Any]:
    """Return the final usage-only chunk sent with ``stream_options.include_usage``."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
    }


def sse_stream_bytes(
    texts: Iterable[str],
    *,
    finish: str | None = "stop",
    usage: tuple[int, int] | None = (5, 3),
    done: bool = True,
    eol: str = "\n",
) -> bytes:
    """Return a whole OpenAI-style event stream as bytes."""
    out = b"".join(sse_event(delta_chunk(t), eol=eol) for t in texts)
    if finish is not None:
        out += sse_event(delta_chunk("", finish), eol=eol)
    if usage is not None:
        out += sse_event(usage_chunk(*usage), eol=eol)
    if done:
        out += sse_event("[DONE]", eol=eol)
    return out


def sse_response(
    pieces: Iterable[bytes],
    *,
    pause: float = 0.0,
    framing: str = "chunked",
    ending: str = "clean",
    status: int = 200,
) -> Scenario:
    """Stream ``pieces`` (each one write) as ``text/event-stream``.

    ``ending``: "clean" (last chunk, then close), "abort" (drop the connection with no last
    chunk) or "stall" (send nothing more until the client gives up).
    """
    pieces = list(pieces)

    async def scenario(conn: Conn) -> None:
        await conn.send_head(
            status, [("Content-Type", "text/event-stream; charset=utf-8")], framing=framing
        )
        for piece in pieces:
            await conn.send_body(piece, pause=pause)
        if ending == "clean":
            await conn.end_body()
        elif ending == "abort":
            conn.abort()
        elif ending == "stall":
            await conn.wait_for_client_close()

    return scenario


def stall_before_head(limit: float = MAX_STALL) -> Scenario:
    """Read the request, then send nothing until the client gives up."""

    async def scenario(conn: Conn) -> None:
        await conn.wait_for_client_close(limit)

    return scenario


def split_bytes(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """Split ``data`` at the given offsets."""
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on (just released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
