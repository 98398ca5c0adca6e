"""Fan-out: 1,000 prompts through ``expertloop.llm.batch.run_batch`` at concurrency 64 against a
stub endpoint that takes a fixed 50 ms per request.

The stub (bench/common.py) is a raw asyncio server with a canned JSON answer, on uvloop, in a
child process, so client and server do not share an event loop. The ideal is
ceil(1000/64) waves x 50 ms = 800 ms, i.e. 64 / 0.05 = 1280 req/s. Prints the achieved wall time,
throughput, share of ideal (goal >= 90%), the client's and the stub's CPU time (to tell which
side is the bottleneck on a small machine). Each variant runs once on a cold client (new
connections), then ``--repeats`` times on the warm client (pooled connections):

* ExpertLoop run_batch: one OpenAICompatibleClient (one httpx/httpcore pool of 64 connections);
* plain httpx + Semaphore: the same HTTP work without ExpertLoop, same httpx/httpcore version;
* plain httpx2 + Semaphore: the same with httpx2/httpcore2 (installed in the venv as a
  dependency of ``llm``/``openai``), whose pool no longer rescans every connection per request;
* raw asyncio client: 64 asyncio streams sending canned HTTP/1.1 requests, no HTTP library at
  all -- the floor this stub and machine allow (shows whether the server is the bottleneck);
* ExpertLoop run_batch over 8 clients: a round-robin ModelClient wrapper (defined here, public API
  only) over 8 OpenAICompatibleClients, so each httpcore pool holds ~8 connections instead of 64.

The last three are diagnostics: they show where the time goes (httpcore's pool bookkeeping grows
with the number of pooled connections), not something ExpertLoop does today. Never fails on time.

    .venv/bin/python bench/llm_fanout.py [--prompts 1000] [--concurrency 64] [--delay 0.05]
                                         [--repeats 2] [--shards 8] [--uvloop] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from common import JSON_TEXT, StubProcess, loopback_runtime, machine_line, median

from expertloop.llm.batch import run_batch
from expertloop.llm.config import EndpointConfig
from expertloop.llm.interface import (
    ChatMessage,
    Completion,
    GenerationParams,
    ModelClient,
    ModelRequest,
    RunStatus,
    StreamEvent,
)
from expertloop.llm.providers.openai_compatible import OpenAICompatibleClient

try:
    import httpx2
except ImportError:  # optional comparison only
    httpx2 = None


class RoundRobin(ModelClient):
    """Diagnostic only: spread calls over several clients (several small connection pools)."""

    def __init__(self, clients: list[ModelClient]) -> None:
        self.clients = clients
        self.next = 0

    def _pick(self) -> ModelClient:
        client = self.clients[self.next]
        self.next = (self.next + 1) % len(self.clients)
        return client

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        return self._pick().stream(request)

    async def complete(self, request: ModelRequest) -> Completion:
        return await self._pick().complete(request)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def requests_for(n: int) -> list[ModelRequest]:
    params = GenerationParams(temperature=0.0, max_tokens=32, seed=0)
    return [
        ModelRequest((ChatMessage("user", f"Prompt number {i}: say hi."),), params)
        for i in range(n)
    ]


def stub_connections(stub: StubProcess) -> int:
    """Connections the stub has accepted so far (asked outside the timed part)."""
    return int(httpx.get(stub.stats_url, trust_env=False).json()["connections"]) - 1


async def timed(fn: Callable[[], Awaitable[int]]) -> tuple[float, float, int]:
    """Return (wall s, client CPU s, ok count) of one fan-out."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    ok = await fn()
    return time.perf_counter() - t0, cpu_seconds() - c0, ok


async def run(
    args: argparse.Namespace, stub: StubProcess
) -> list[tuple[str, float, float, int, int]]:
    runtime = loopback_runtime()
    requests = requests_for(args.prompts)
    rows: list[tuple[str, float, float, int, int]] = []
    config = EndpointConfig(
        provider="openai_compatible", model_id="stub-model", base_url=stub.base_url
    )
    client = OpenAICompatibleClient(config, runtime)
    sharded = RoundRobin([OpenAICompatibleClient(config, runtime) for _ in range(args.shards)])
    body = client._body(requests[0], stream=False)
    headers = client._headers()

    def batch_with(model_client: ModelClient) -> Callable[[], Awaitable[int]]:
        async def go() -> int:
            done = await run_batch(model_client, requests, concurrency=args.concurrency)
            return sum(1 for c in done if c.status is RunStatus.ok and c.text == JSON_TEXT)

        return go

    def plain_with(http: Any) -> Callable[[], Awaitable[int]]:
        async def go() -> int:
            sem = asyncio.Semaphore(args.concurrency)
            ok = 0

            async def one(i: int) -> None:
                nonlocal ok
                message = {"role": "user", "content": f"Prompt number {i}: say hi."}
                async with sem:
                    r = await http.post(
                        stub.url, json=body | {"messages": [message]}, headers=headers
                    )
                    payload = json.loads(r.content)
                if payload["choices"][0]["message"]["content"] == JSON_TEXT:
                    ok += 1

            async with asyncio.TaskGroup() as group:
                for i in range(args.prompts):
                    group.create_task(one(i))
            return ok

        return go

    async def raw_floor() -> int:
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{stub.port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
        )
        wire = head.encode() + payload
        todo = iter(range(args.prompts))
        ok = 0

        async def worker() -> None:
            nonlocal ok
            reader, writer = await asyncio.open_connection("127.0.0.1", stub.port)
            try:
                for _ in todo:
                    writer.write(wire)
                    answer_head = await reader.readuntil(b"\r\n\r\n")
                    length = int(answer_head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    answer = json.loads(await reader.readexactly(length))
                    if answer["choices"][0]["message"]["content"] == JSON_TEXT:
                        ok += 1
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        return ok

    def plain_client(module: Any) -> Any:
        return module.AsyncClient(
            limits=module.Limits(
                max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0
            ),
            timeout=module.Timeout(runtime.read_timeout, connect=runtime.connect_timeout),
            trust_env=False,
        )

    plain = plain_client(httpx)
    plain2 = plain_client(httpx2) if httpx2 is not None else None
    variants: list[tuple[str, Callable[[], Awaitable[int]], int]] = [
        ("ExpertLoop run_batch", batch_with(client), args.repeats),
        ("plain httpx + Semaphore", plain_with(plain), min(args.repeats, 1)),
    ]
    if plain2 is not None:
        variants.append(("plain httpx2 + Semaphore", plain_with(plain2), args.repeats))
    variants.append(("raw asyncio client (floor)", raw_floor, 1))
    variants.append(
        (f"ExpertLoop run_batch, {args.shards} clients", batch_with(sharded), args.repeats)
    )
    try:
        for name, fn, repeats in variants:
            for rep in range(repeats + 1):
                if name.startswith("raw"):
                    label = f"{name} (fresh #{rep + 1})"
                else:
                    label = f"{name} ({'cold' if rep == 0 else f'warm #{rep}'})"
                before = stub_connections(stub)
                wall, cpu, ok = await timed(fn)
                rows.append((label, wall, cpu, ok, stub_connections(stub) - before - 1))
                await asyncio.sleep(0.2)  # let the stub settle between runs
    finally:
        await client.aclose()
        await sharded.aclose()
        await plain.aclose()
        if plain2 is not None:
            await plain2.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.05, help="stub latency in seconds")
    parser.add_argument("--repeats", type=int, default=2, help="warm runs after the cold one")
    parser.add_argument("--shards", type=int, default=8, help="clients in the round-robin run")
    parser.add_argument("--quick", action="store_true", help="200 prompts, 1 warm run")
    parser.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.repeats = 200, 1
    args.prompts = max(1, min(args.prompts, 20000))
    args.shards = max(1, min(args.shards, 64))
    args.repeats = max(0, min(args.repeats, 10))
    args.concurrency = max(1, min(args.concurrency, 100))  # GuardedTransport pools 100

    waves = math.ceil(args.prompts / args.concurrency)
    ideal_s = waves * args.delay
    ideal_rps = args.concurrency / args.delay
    print("llm_fanout:", machine_line())
    print(
        f"{args.prompts} prompts, concurrency {args.concurrency}, stub latency "
        f"{args.delay * 1000:.0f} ms; client loop: {'uvloop' if args.uvloop else 'asyncio'}; "
        "stub: raw asyncio server on uvloop in a child process"
    )
    print(
        f"ideal: {waves} waves x {args.delay * 1000:.0f} ms = {ideal_s * 1000:.0f} ms; "
        f"ideal throughput {ideal_rps:.0f} req/s "
        f"(for {args.prompts} prompts: {args.prompts / ideal_s:.0f} req/s)"
    )
    print()

    with StubProcess(delay=args.delay) as stub:
        if args.uvloop:
            import uvloop

            rows = uvloop.run(run(args, stub))
        else:
            rows = asyncio.run(run(args, stub))

    print(
        f"  {'run':<44} {'wall':>8} {'req/s':>8} {'% ideal':>8} {'client CPU':>11}"
        f"  {'ok':>9} {'new conns':>9}"
    )
    for label, wall, cpu, ok, conns in rows:
        rps = args.prompts / wall
        share = ideal_s / wall * 100
        print(
            f"  {label:<44} {wall * 1000:6.0f}ms {rps:8.0f} {share:7.1f}% "
            f"{cpu:6.2f} s ({cpu / wall * 100:3.0f}%)  {f'{ok}/{args.prompts}':>9} {conns:9d}"
        )
    print()
    names = list(dict.fromkeys(label.rsplit(" (", 1)[0] for label, *_ in rows))
    for name in names:
        warm = [
            wall
            for label, wall, *_ in rows
            if label.rsplit(" (", 1)[0] == name and ("warm" in label or "#2" in label)
        ]
        if warm:
            w = median(warm)
            print(
                f"{name:<34} median of warm runs {w * 1000:.0f} ms, {args.prompts / w:.0f} req/s, "
                f"{ideal_s / w * 100:.1f}% of ideal (goal >= 90%: "
                f"{'met' if ideal_s / w >= 0.9 else 'NOT met'})"
            )
    total_wall = sum(wall for _, wall, *_ in rows)
    stats = stub.stats
    print(
        f"stub: {stats.get('requests')} requests, {stats.get('connections')} connections, "
        f"at most {stats.get('max_open')} open at once, {stats.get('cpu_s', 0):.2f} s CPU in "
        f"{total_wall:.1f} s of runs ({stats.get('cpu_s', 0) / total_wall * 100:.0f}% of one "
        "core)"
    )


if __name__ == "__main__":
    main()
