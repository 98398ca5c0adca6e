"""Per-call overhead of ExpertLoop's OpenAICompatibleClient versus a plain aiohttp.ClientSession.

ExpertLoop's client is built on aiohttp, so the baseline is the same HTTP library used directly.
All sides call the same stub endpoint (bench/common.py, own process, answers instantly) over a
kept-alive connection with the same JSON body and headers ExpertLoop builds, and all parse the
answer:

* non-streaming: ``client.complete(request)`` versus ``session.post`` + ``json.loads`` of the body
  and taking ``choices[0].message.content``;
* streaming: iterating ``client.stream(request)`` to the final Completion versus
  ``session.post`` + reading the SSE lines + ``json.loads`` of every ``data:`` line, joining the
  content deltas until ``[DONE]`` and reading to the end of the body.

A plain ``httpx.AsyncClient`` doing the same is kept as a reference row (``--no-httpx`` drops
it); the goal line compares ExpertLoop with plain aiohttp.

Calls are sequential, interleaved in blocks (A, B, C, then C, B, A, ...) so that drift of the
machine hits every side alike. Prints median / p90 / p99 latency of each and the median
overhead over plain aiohttp (goal: < 2 ms median). Never fails on time.

    .venv/bin/python bench/llm_overhead.py [--calls 2000] [--block 100] [--uvloop] [--no-httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from common import (
    JSON_TEXT,
    STREAM_TEXT,
    StubProcess,
    loopback_runtime,
    machine_line,
    median,
    percentile,
)

from expertloop.llm.config import EndpointConfig
from expertloop.llm.interface import ChatMessage, GenerationParams, ModelRequest, RunStatus
from expertloop.llm.providers.openai_compatible import OpenAICompatibleClient

Call = Callable[[], Awaitable[None]]

EL_JSON = "ExpertLoop complete()"
AIO_JSON = "plain aiohttp + json"
HTTPX_JSON = "plain httpx + json (reference)"
EL_SSE = "ExpertLoop stream()"
AIO_SSE = "plain aiohttp + SSE lines + json"
HTTPX_SSE = "plain httpx + aiter_lines (reference)"


def make_request() -> ModelRequest:
    return ModelRequest(
        (ChatMessage("user", "Say hello in one short sentence."),),
        GenerationParams(temperature=0.0, max_tokens=32, seed=0),
    )


async def measure(
    calls: dict[str, Call],
    n: int,
    block: int,
    warmup: int,
    connections: Callable[[], Awaitable[int]],
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Run ``n`` calls of each, interleaved in blocks; return latencies in ms per name and the
    number of TCP connections the stub accepted for each name's calls (outside the timing)."""
    for call in calls.values():
        for _ in range(warmup):
            await call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    opened: dict[str, int] = dict.fromkeys(calls, 0)
    clock = time.perf_counter
    done = 0
    order = list(calls)
    while done < n:
        size = min(block, n - done)
        for name in order:
            call = calls[name]
            bucket = times[name]
            before = await connections()
            for _ in range(size):
                t0 = clock()
                await call()
                bucket.append((clock() - t0) * 1000)
            opened[name] += await connections() - before
        order.reverse()  # alternate who goes first in each round
        done += size
    return times, opened


def summary(name: str, values: list[float]) -> str:
    s = sorted(values)
    return (
        f"  {name:<38} median {median(s):7.3f} ms   p90 {percentile(s, 90):7.3f} ms   "
        f"p99 {percentile(s, 99):7.3f} ms   (n={len(s)})"
    )


def sse_text(lines: list[bytes] | list[str]) -> str:
    """Join the content deltas of SSE ``data:`` lines up to ``[DONE]`` (json.loads each)."""
    parts: list[str] = []
    for raw in lines:
        line = raw.decode() if isinstance(raw, bytes) else raw
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        choices = json.loads(data).get("choices") or []
        if choices:
            content = choices[0].get("delta", {}).get("content")
            if content:
                parts.append(content)
    return "".join(parts)


async def run(args: argparse.Namespace, stub: StubProcess) -> None:
    base_url, url = stub.base_url, stub.url
    runtime = loopback_runtime()
    config = EndpointConfig(provider="openai_compatible", model_id="stub-model", base_url=base_url)
    client = OpenAICompatibleClient(config, runtime)
    request = make_request()
    # The very same body and headers ExpertLoop sends.
    body_json = client._body(request, stream=False)
    body_sse = client._body(request, stream=True)
    headers = client._headers()
    # Plain aiohttp with the options ExpertLoop's session uses (transport.new_session), minus the
    # SSRF resolver (never called for an IP-literal host like 127.0.0.1 anyway).
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=runtime.connect_timeout, sock_read=runtime.read_timeout
        ),
        trust_env=False,
        auto_decompress=True,
    )
    plain_httpx: Any = None
    if not args.no_httpx:
        import httpx

        plain_httpx = httpx.AsyncClient(
            timeout=httpx.Timeout(runtime.read_timeout, connect=runtime.connect_timeout),
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def el_complete() -> None:
        c = await client.complete(request)
        if c.status is not RunStatus.ok or c.text != JSON_TEXT:
            raise RuntimeError(f"unexpected completion: {c.status} {c.error} {c.text!r}")

    async def aiohttp_complete() -> None:
        async with session.post(url, json=body_json, headers=headers) as r:
            payload = json.loads(await r.read())
        if r.status != 200 or payload["choices"][0]["message"]["content"] != JSON_TEXT:
            raise RuntimeError("unexpected plain aiohttp answer")

    async def httpx_complete() -> None:
        r = await plain_httpx.post(url, json=body_json, headers=headers)
        payload = json.loads(r.content)
        if r.status_code != 200 or payload["choices"][0]["message"]["content"] != JSON_TEXT:
            raise RuntimeError("unexpected plain httpx answer")

    async def el_stream() -> None:
        final = None
        async for event in client.stream(request):
            final = event
        if final is None or final.status is not RunStatus.ok or final.text != STREAM_TEXT:
            raise RuntimeError(f"unexpected stream end: {final!r}")

    async def aiohttp_stream() -> None:
        async with session.post(url, json=body_sse, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError("unexpected plain aiohttp status")
            # Read every line to the end of the body so the connection goes back to the pool.
            lines = [line async for line in r.content]
        if sse_text(lines) != STREAM_TEXT:
            raise RuntimeError("unexpected plain aiohttp stream text")

    async def httpx_stream() -> None:
        async with plain_httpx.stream("POST", url, json=body_sse, headers=headers) as r:
            if r.status_code != 200:
                raise RuntimeError("unexpected plain httpx status")
            lines = [line async for line in r.aiter_lines()]  # to the end: connection reused
        if sse_text(lines) != STREAM_TEXT:
            raise RuntimeError("unexpected plain httpx stream text")

    modes: list[tuple[str, dict[str, Call]]] = [
        ("non-streaming", {EL_JSON: el_complete, AIO_JSON: aiohttp_complete}),
        ("streaming (SSE)", {EL_SSE: el_stream, AIO_SSE: aiohttp_stream}),
    ]
    if plain_httpx is not None:
        modes[0][1][HTTPX_JSON] = httpx_complete
        modes[1][1][HTTPX_SSE] = httpx_stream
    try:
        results = []
        for label, calls in modes:
            t0 = time.perf_counter()
            times, opened = await measure(
                calls, args.calls, args.block, args.warmup, stub.connections
            )
            results.append((label, times, opened, time.perf_counter() - t0))
        for label, times, opened, wall in results:
            names = list(times)
            el_name, base_name = names[0], names[1]
            print(f"{label}: {args.calls} calls each, blocks of {args.block}, {wall:.1f} s")
            for name in names:
                print(summary(name, times[name]))
            print(
                "  new TCP connections during the timed calls: "
                + ", ".join(f"{name}: {opened[name]}" for name in names)
            )
            el_med, base_med = median(times[el_name]), median(times[base_name])
            over = el_med - base_med
            print(
                f"  median overhead vs plain aiohttp: {over:+.3f} ms per call "
                f"({el_med / base_med * 100:.0f}% of plain)   goal < 2 ms: "
                f"{'met' if over < 2 else 'NOT met'}"
            )
            for name in names[2:]:
                ref = median(times[name])
                print(
                    f"  reference: {name} median {ref:.3f} ms "
                    f"(ExpertLoop {el_med - ref:+.3f} ms vs it)"
                )
            print()
    finally:
        await client.aclose()
        await session.close()
        if plain_httpx is not None:
            await plain_httpx.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    parser.add_argument(
        "--no-httpx", action="store_true", help="drop the plain httpx reference rows"
    )
    args = parser.parse_args()
    args.calls = max(1, min(args.calls, 20000))
    args.block = max(1, min(args.block, args.calls))
    args.warmup = max(0, min(args.warmup, 1000))
    print("llm_overhead:", machine_line())
    print(
        f"client loop: {'uvloop' if args.uvloop else 'asyncio'}; aiohttp {aiohttp.__version__}; "
        "stub: raw asyncio server on uvloop in a child process, instant answers"
    )
    with StubProcess(delay=0.0) as stub:
        if args.uvloop:
            import uvloop

            uvloop.run(run(args, stub))
        else:
            asyncio.run(run(args, stub))
    print(
        f"stub: {stub.stats.get('requests')} requests on {stub.stats.get('connections')} "
        f"connection(s), {stub.stats.get('cpu_s', 0):.2f} s server CPU"
    )


if __name__ == "__main__":
    main()
