"""Per-call overhead of ExpertLoop's OpenAICompatibleClient versus a plain httpx.AsyncClient.

Both sides call the same stub endpoint (bench/common.py, own process, answers instantly) over
one kept-alive connection with the same JSON body and headers, and both parse the answer:

* non-streaming: ``client.complete(request)`` versus ``httpx.post`` + ``json.loads``
  of the body and taking ``choices[0].message.content``;
* streaming: iterating ``client.stream(request)`` to the final Completion versus
  ``httpx.stream`` + ``aiter_lines`` + ``json.loads`` of every ``data:`` line, joining the
  content deltas until ``[DONE]``.

Calls are sequential, interleaved in blocks (A-block, B-block, A-block, ...) so that drift of
the machine hits both sides alike. Prints median / p90 / p99 latency of each and the median
overhead (goal: < 2 ms median). Never fails on time.

    .venv/bin/python bench/llm_overhead.py [--calls 2000] [--block 100] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx
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
        f"  {name:<34} median {median(s):7.3f} ms   p90 {percentile(s, 90):7.3f} ms   "
        f"p99 {percentile(s, 99):7.3f} ms   (n={len(s)})"
    )


async def run(args: argparse.Namespace, base_url: str, url: str, stats_url: str) -> None:
    runtime = loopback_runtime()
    config = EndpointConfig(provider="openai_compatible", model_id="stub-model", base_url=base_url)
    client = OpenAICompatibleClient(config, runtime)
    request = make_request()
    # The very same body and headers ExpertLoop sends.
    body_json = client._body(request, stream=False)
    body_sse = client._body(request, stream=True)
    headers = client._headers()
    plain = httpx.AsyncClient(
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

    async def httpx_complete() -> None:
        r = await plain.post(url, json=body_json, headers=headers)
        payload = json.loads(r.content)
        if r.status_code != 200 or payload["choices"][0]["message"]["content"] != JSON_TEXT:
            raise RuntimeError("unexpected plain answer")

    async def el_stream() -> None:
        final = None
        async for event in client.stream(request):
            final = event
        if final is None or final.status is not RunStatus.ok or final.text != STREAM_TEXT:
            raise RuntimeError(f"unexpected stream end: {final!r}")

    async def httpx_stream() -> None:
        parts: list[str] = []
        async with plain.stream("POST", url, json=body_sse, headers=headers) as r:
            if r.status_code != 200:
                raise RuntimeError("unexpected plain status")
            done = False
            async for line in r.aiter_lines():  # read to the end so the connection is reused
                if done or not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    continue
                event = json.loads(data)
                choices = event.get("choices") or []
                if choices:
                    content = choices[0].get("delta", {}).get("content")
                    if content:
                        parts.append(content)
        if "".join(parts) != STREAM_TEXT:
            raise RuntimeError("unexpected plain stream text")

    probe = httpx.AsyncClient(trust_env=False)

    async def connections() -> int:
        return int((await probe.get(stats_url)).json()["connections"])

    try:
        results = []
        for label, pair in (
            (
                "non-streaming",
                {"ExpertLoop complete()": el_complete, "plain httpx + json": httpx_complete},
            ),
            (
                "streaming (SSE)",
                {
                    "ExpertLoop stream()": el_stream,
                    "plain httpx + aiter_lines + json": httpx_stream,
                },
            ),
        ):
            t0 = time.perf_counter()
            times, opened = await measure(pair, args.calls, args.block, args.warmup, connections)
            wall = time.perf_counter() - t0
            (el_name, el_t), (px_name, px_t) = times.items()
            results.append((label, el_name, el_t, px_name, px_t, wall, opened))
        for label, el_name, el_t, px_name, px_t, wall, opened in results:
            over = median(el_t) - median(px_t)
            print(f"{label}: {args.calls} calls each, blocks of {args.block}, {wall:.1f} s")
            print(summary(el_name, el_t))
            print(summary(px_name, px_t))
            print(
                f"  new TCP connections during the timed calls: {el_name}: {opened[el_name]}, "
                f"{px_name}: {opened[px_name]}"
            )
            print(
                f"  median overhead: {over:+.3f} ms per call "
                f"({median(el_t) / median(px_t) * 100:.0f}% of plain)   goal < 2 ms: "
                f"{'met' if over < 2 else 'NOT met'}"
            )
            print()
    finally:
        await client.aclose()
        await plain.aclose()
        await probe.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    args = parser.parse_args()
    args.calls = max(1, min(args.calls, 20000))
    print("llm_overhead:", machine_line())
    print(
        f"client loop: {'uvloop' if args.uvloop else 'asyncio'}; stub: raw asyncio server on "
        "uvloop in a child process, instant answers"
    )
    with StubProcess(delay=0.0) as stub:
        if args.uvloop:
            import uvloop

            uvloop.run(run(args, stub.base_url, stub.url, stub.stats_url))
        else:
            asyncio.run(run(args, stub.base_url, stub.url, stub.stats_url))
    print(
        f"stub: {stub.stats.get('requests')} requests on {stub.stats.get('connections')} "
        f"connection(s), {stub.stats.get('cpu_s', 0):.2f} s server CPU"
    )


if __name__ == "__main__":
    main()
