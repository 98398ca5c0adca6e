"""Chat completions over HTTP, streaming (SSE) or not: vLLM, Ollama, llama.cpp's server,
LiteLLM and hosted APIs. Every fault ends as a ``Completion`` with a clear reason; partial text
is kept; nothing raises to the caller."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from expertloop.llm import context
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
from expertloop.llm.retry import backoff_delay, is_retryable, retry_after_seconds
from expertloop.llm.sse import SSEDecoder
from expertloop.llm.ssrf import UnsafeEndpoint, check_url, normalise_url
from expertloop.llm.transport import SessionPerLoop, check_literal_host

_ERROR_BODY_CAP = 16_000
_MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, upstream: str | None = None, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.upstream, self.wait = reason, upstream, wait


@dataclass
class _Attempt:
    """What one attempt produced so far."""

    text: list[str] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    raw_bytes: int = 0
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    ttft_ms: float | None = None
    saw_choice: bool = False
    done: bool = False


class OpenAICompatibleClient(ModelClient):
    """A client for one OpenAI-compatible chat-completions endpoint."""

    def __init__(self, config: EndpointConfig, runtime: Runtime) -> None:
        self.config = config
        # Normalised and checked once; each connection is checked again by the resolver.
        self._first_url = normalise_url(self._url())
        self._origin = check_url(self._first_url)
        self.runtime = runtime
        self._sessions = SessionPerLoop(
            runtime.policy,
            connect_timeout=runtime.connect_timeout,
            read_timeout=runtime.read_timeout,
        )

    async def aclose(self) -> None:
        await self._sessions.close()

    # -- request building -------------------------------------------------------------------

    def _url(self) -> str:
        base = self.config.base_url.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base}/chat/completions"

    def _body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        params = request.params.merged_over(self.config.defaults)
        req = ModelRequest(request.messages, params)
        body: dict[str, Any] = {
            "model": self.config.model_id,
            "messages": [{"role": m.role, "content": m.content} for m in req.full_messages()],
            "stream": stream,
        }
        for name in ("temperature", "max_tokens", "seed", "top_p"):
            value = getattr(params, name)
            if value is not None:
                body[name] = value
        if stream and self.config.options.get("stream_usage", True):
            body["stream_options"] = {"include_usage": True}
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream, application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    # -- public calls -----------------------------------------------------------------------

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        return self._run(request, stream=True)

    async def complete(self, request: ModelRequest) -> Completion:
        final: Completion | None = None
        async for event in self._run(request, stream=False):
            if isinstance(event, Completion):
                final = event
        assert final is not None
        return final

    # -- the attempt loop -------------------------------------------------------------------

    async def _run(self, request: ModelRequest, *, stream: bool) -> AsyncIterator[StreamEvent]:
        body = self._body(request, stream=stream)
        raw_request = {"url": self._url(), "body": body}
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            state = _Attempt()
            try:
                async for delta in self._attempt(body, state, started, stream=stream):
                    yield delta
            except _Retry as retry:
                if attempts > self.runtime.max_retries:
                    yield self._final(
                        state,
                        started,
                        attempts,
                        raw_request,
                        RunStatus.failed,
                        f"{retry.reason} (gave up after {attempts} attempts)",
                        retry.upstream,
                    )
                    return
                await asyncio.sleep(
                    backoff_delay(
                        attempts,
                        base=self.runtime.retry_base_delay,
                        cap=self.runtime.retry_max_delay,
                        retry_after=retry.wait,
                    )
                )
                continue
            except _Failed as failed:
                status = RunStatus.incomplete if failed.partial and state.text else RunStatus.failed
                yield self._final(
                    state, started, attempts, raw_request, status, failed.reason, failed.upstream
                )
                return
            if stream and state.raw_bytes == 0 and not state.events:
                # llama-cpp-python's server answers 200 and then sends nothing when generation
                # fails before the first token (a prompt over the context window): asked once
                # without streaming, it says why.
                async for event in self._run(request, stream=False):
                    yield event
                return
            yield self._finish(state, started, attempts, raw_request)
            return

    def _scrub(self, text: str | None) -> str | None:
        # An endpoint that echoes the request's headers must not plant the key in our records.
        if text and self.config.api_key:
            return text.replace(self.config.api_key, "[redacted]")
        return text

    def _final(
        self,
        state: _Attempt,
        started: float,
        attempts: int,
        raw_request: dict[str, Any],
        status: RunStatus,
        reason: str | None,
        upstream: str | None,
    ) -> Completion:
        return Completion(
            text="".join(state.text),
            status=status,
            finish_reason=state.finish_reason,
            usage=state.usage,
            latency_ms=(time.monotonic() - started) * 1000,
            ttft_ms=state.ttft_ms,
            error=reason,
            upstream_error=self._scrub(upstream),
            raw_request=raw_request,
            raw_response=state.events,
            attempts=attempts,
        )

    def _finish(
        self, state: _Attempt, started: float, attempts: int, raw_request: dict[str, Any]
    ) -> Completion:
        if not state.saw_choice:
            return self._final(
                state,
                started,
                attempts,
                raw_request,
                RunStatus.failed,
                "The endpoint returned no choices.",
                None,
            )
        if state.done or state.finish_reason:
            return self._final(state, started, attempts, raw_request, RunStatus.ok, None, None)
        return self._final(
            state,
            started,
            attempts,
            raw_request,
            RunStatus.incomplete,
            "The stream ended before the model finished its answer.",
            None,
        )

    async def _attempt(
        self, body: dict[str, Any], state: _Attempt, started: float, *, stream: bool
    ) -> AsyncIterator[TextDelta]:
        url, (_scheme, host, port) = self._first_url, self._origin
        headers = self._headers()
        session = self._sessions.get()
        try:
            for _hop in range(_MAX_REDIRECTS + 1):
                await check_literal_host(host, port, self.runtime.policy)
                async with session.post(
                    url, json=body, headers=headers, allow_redirects=False
                ) as response:
                    if response.status in _REDIRECTS and "location" in response.headers:
                        try:
                            url = str(response.url.join(URL(response.headers["location"])))
                        except ValueError as exc:
                            raise _Failed("The endpoint redirected to an invalid URL.") from exc
                        # Only redirects within the endpoint's own host are followed (http to
                        # https included): a model API has no business sending a POST, with
                        # its key, elsewhere, and it keeps redirects from reaching inwards.
                        _scheme, new_host, port = check_url(url)
                        if new_host != host:
                            raise _Failed(
                                "The endpoint redirected to another host, which is not followed."
                            )
                        continue
                    if response.status != 200:
                        await self._http_error(response)
                    ctype = response.headers.get("content-type", "")
                    if "text/event-stream" in ctype:
                        async for delta in self._read_sse(response, state, started):
                            yield delta
                    else:
                        async for delta in self._read_json(response, state, started):
                            yield delta
                    return
            raise _Failed("The endpoint redirected too many times.")
        except UnsafeEndpoint as exc:
            raise _Failed(exc.message) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            if state.text:
                raise _Failed(
                    "The endpoint stopped sending mid-answer (read timeout).", partial=True
                ) from exc
            kind = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "read"
            raise _Retry(f"The endpoint timed out ({kind} timeout).") from exc
        except aiohttp.ClientConnectorError as exc:
            raise _Retry("Could not connect to the endpoint.") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                aiohttp.ClientOSError) as exc:  # fmt: skip
            if state.text:
                raise _Failed("The connection dropped mid-answer.", partial=True) from exc
            raise _Retry("The connection to the endpoint dropped.") from exc
        except aiohttp.ClientResponseError as exc:
            if state.text:  # a retry would send the same deltas twice
                raise _Failed(
                    "The endpoint sent a malformed response mid-answer.", partial=True
                ) from exc
            raise _Retry(f"The endpoint sent a malformed response ({exc.message}).") from exc
        except aiohttp.ClientError as exc:
            raise _Failed(f"HTTP error talking to the endpoint: {type(exc).__name__}.") from exc

    async def _read_capped(self, response: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(chunks)[:cap], True
        return b"".join(chunks), False

    async def _http_error(self, response: aiohttp.ClientResponse) -> None:
        raw, _ = await self._read_capped(response, _ERROR_BODY_CAP)
        text = raw.decode("utf-8", errors="replace")
        status = response.status
        overflow = context.from_response(status, text)
        if overflow is not None:
            raise _Failed(overflow.reason(), upstream=text)
        reason = f"The endpoint answered HTTP {status}."
        if status in (401, 403):
            reason = f"The endpoint refused the credentials (HTTP {status}); check the API key."
        elif status == 429 and "insufficient_quota" in text:
            reason = "The endpoint's quota is used up (HTTP 429 insufficient_quota)."
        elif status == 429:
            reason = "The endpoint is rate limiting (HTTP 429)."
        if is_retryable(status, text):
            raise _Retry(
                reason, upstream=text, wait=retry_after_seconds(response.headers.get("retry-after"))
            )
        raise _Failed(reason, upstream=text)

    def _count(self, state: _Attempt, size: int) -> None:
        state.raw_bytes += size
        if state.raw_bytes > self.runtime.max_response_bytes:
            raise _Failed(
                f"The answer exceeded the size cap of {self.runtime.max_response_bytes} bytes.",
                partial=True,
            )

    def _choice(
        self, state: _Attempt, started: float, choice: dict[str, Any], content: Any
    ) -> TextDelta | None:
        state.saw_choice = True
        if choice.get("finish_reason"):
            state.finish_reason = str(choice["finish_reason"])
        if isinstance(content, str) and content:
            if state.ttft_ms is None:
                state.ttft_ms = (time.monotonic() - started) * 1000
            state.text.append(content)
            return TextDelta(content)
        return None

    @staticmethod
    def _usage(state: _Attempt, payload: dict[str, Any]) -> None:
        usage = payload.get("usage")
        if isinstance(usage, dict):
            state.usage = Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))

    async def _read_sse(
        self, response: aiohttp.ClientResponse, state: _Attempt, started: float
    ) -> AsyncIterator[TextDelta]:
        decoder = SSEDecoder()

        def handle(data: str) -> TextDelta | None:
            if data.strip() == "[DONE]":
                state.done = True
                return None
            try:
                payload = json.loads(data)
            except json.JSONDecodeError as exc:
                raise _Failed(
                    "The endpoint sent an event that is not JSON.",
                    upstream=data[:2000],
                    partial=True,
                ) from exc
            if not isinstance(payload, dict):
                raise _Failed("The endpoint sent an unexpected event.", partial=True)
            state.events.append(payload)
            if "error" in payload:
                err = payload["error"]
                message = err.get("message") if isinstance(err, dict) else str(err)
                overflow = context.from_response(None, data)
                raise _Failed(
                    overflow.reason() if overflow else "The endpoint reported an error mid-stream.",
                    upstream=str(message)[:_ERROR_BODY_CAP],
                    partial=True,
                )
            self._usage(state, payload)
            choice = _first_choice(payload)
            if choice is None:
                return None
            delta = choice.get("delta") or {}
            if not isinstance(delta, dict):
                raise _Failed("The endpoint sent an unexpected event.", partial=True)
            return self._choice(state, started, choice, delta.get("content"))

        async for chunk in response.content.iter_any():
            self._count(state, len(chunk))
            for data in decoder.feed(chunk):
                out = handle(data)
                if out is not None:
                    yield out
                if state.done:
                    await self._drain(response, state)
                    return
        for data in decoder.close():
            out = handle(data)
            if out is not None:
                yield out

    async def _drain(self, response: aiohttp.ClientResponse, state: _Attempt) -> None:
        """Read what follows [DONE] (usually nothing) so the connection can be reused."""
        try:
            async with asyncio.timeout(1.0):  # never hold a finished answer back for long
                async for chunk in response.content.iter_any():
                    state.raw_bytes += len(chunk)
                    if state.raw_bytes > self.runtime.max_response_bytes:
                        break
        except (aiohttp.ClientError, TimeoutError):
            pass
        if not response.content.at_eof():
            response.close()  # the connection is dropped instead of reused

    async def _read_json(
        self, response: aiohttp.ClientResponse, state: _Attempt, started: float
    ) -> AsyncIterator[TextDelta]:
        raw, too_big = await self._read_capped(response, self.runtime.max_response_bytes)
        if too_big:
            raise _Failed(
                f"The answer exceeded the size cap of {self.runtime.max_response_bytes} bytes."
            )
        text = raw.decode("utf-8", errors="replace")
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            looks_html = text.lstrip().lower().startswith(("<!doctype", "<html"))
            what = "an HTML page" if looks_html else "a body that is not JSON"
            raise _Failed(
                f"The endpoint answered with {what}; is the base URL right?", upstream=text[:2000]
            ) from exc
        if not isinstance(payload, dict):
            raise _Failed("The endpoint answered with unexpected JSON.", upstream=text[:2000])
        state.events.append(payload)
        if "error" in payload:
            overflow = context.from_response(None, text)
            raise _Failed(
                overflow.reason() if overflow else "The endpoint reported an error.",
                upstream=text[:_ERROR_BODY_CAP],
            )
        self._usage(state, payload)
        choice = _first_choice(payload)
        if choice is None:
            return
        message = choice.get("message") or {}
        if not isinstance(message, dict):
            raise _Failed("The endpoint answered with unexpected JSON.", upstream=text[:2000])
        delta = self._choice(state, started, choice, message.get("content"))
        state.done = True
        if delta is not None:
            yield delta


def _first_choice(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Return the first choice, None when there is none; refuse a malformed ``choices``."""
    choices = payload.get("choices") or []
    if not isinstance(choices, list) or (choices and not isinstance(choices[0], dict)):
        raise _Failed("The endpoint sent choices in an unexpected shape.", partial=True)
    return choices[0] if choices else None


class _Failed(Exception):
    """Internal: this call failed for good."""

    def __init__(self, reason: str, upstream: str | None = None, *, partial: bool = False):
        super().__init__(reason)
        self.reason, self.upstream, self.partial = reason, upstream, partial
