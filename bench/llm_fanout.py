"""Fan-out: 1,000 prompts through ``expertloop.llm.batch.run_batch`` at concurrency 64 against a
stub endpoint that takes a fixed 50 ms per request.

The stub (bench/common.py) is a raw asyncio server with a canned JSON answer, on uvloop, in a
child process, so client and server do not share an event loop. The ideal is
ceil(1000/64) waves x 50 ms = 800 ms, i.e. 64 / 0.05 = 1280 req/s. Prints the achieved wall time,
throughput, share of ideal (goal >= 90%), the client's CPU time (total, % of wall, per request),
the median per-request latency (stub delay + time the answer waited in the client) and the
stub's CPU time (to tell which side is the bottleneck on a small machine). Each variant runs
once on a cold client (new connections), then ``--repeats`` times on the warm client (pooled
connections), the variants taking turns:

* ExpertLoop run_batch: one OpenAICompatibleClient (one aiohttp ClientSession / TCPConnector);
* plain aiohttp + Semaphore: the same HTTP work with the same library and no ExpertLoop (one
  ClientSession, TCPConnector(limit=100)): how close ExpertLoop gets to its own HTTP library;
* raw asyncio client: 64 asyncio streams sending canned HTTP/1.1 requests, no HTTP library at
  all -- the floor this stub and machine allow (shows whether the server is the bottleneck);
* ExpertLoop run_batch over 8 clients: a round-robin ModelClient wrapper (defined here, public API
  only) over 8 OpenAICompatibleClients (8 sessions of ~8 connections each instead of one of 64);
* references, cold run only (skip them with ``--no-references``): plain httpx + Semaphore
  (httpx 0.28 / httpcore 1.0.9, whose pool rescans every connection per request: why the
  transport moved to aiohttp) and plain httpx2 + Semaphore (httpx2/httpcore2, if installed).

Never fails on time.

    .venv/bin/python bench/llm_fanout.py [--prompts 1000] [--concurrency 64] [--delay 0.05]
                                         [--repeats 2] [--shards 8] [--uvloop] [--quick]
                                         [--no-references]
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

import aiohttp
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

Result = tuple[int, list[float]]  # ok count, per-request latencies in ms
# variant, run index, wall s, client CPU s, ok count, median latency ms, new connections
Row = tuple[str, int, float, float, int, float, int]


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


async def timed(fn: Callable[[], Awaitable[Result]]) -> tuple[float, float, int, float]:
    """Return (wall s, client CPU s, ok count, median latency ms) of one fan-out."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    ok, latencies = await fn()
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return wall, cpu, ok, median(latencies)


async def run(args: argparse.Namespace, stub: StubProcess) -> list[Row]:
    runtime = loopback_runtime()
    requests = requests_for(args.prompts)
    config = EndpointConfig(
        provider="openai_compatible", model_id="stub-model", base_url=stub.base_url
    )
    client = OpenAICompatibleClient(config, runtime)
    sharded = RoundRobin([OpenAICompatibleClient(config, runtime) for _ in range(args.shards)])
    body = client._body(requests[0], stream=False)
    headers = client._headers()
    clock = time.perf_counter

    def batch_with(model_client: ModelClient) -> Callable[[], Awaitable[Result]]:
        async def go() -> Result:
            done = await run_batch(model_client, requests, concurrency=args.concurrency)
            ok = sum(1 for c in done if c.status is RunStatus.ok and c.text == JSON_TEXT)
            return ok, [c.latency_ms for c in done]  # measured by ExpertLoop, per call

        return go

    def fan_out(
        one: Callable[[dict[str, Any]], Awaitable[bool]],
    ) -> Callable[[], Awaitable[Result]]:
        """Plain fan-out: one task per prompt, at most ``concurrency`` inside a Semaphore."""

        async def go() -> Result:
            sem = asyncio.Semaphore(args.concurrency)
            ok = 0
            latencies: list[float] = []

            async def task(i: int) -> None:
                nonlocal ok
                message = {"role": "user", "content": f"Prompt number {i}: say hi."}
                async with sem:
                    t0 = clock()
                    good = await one(body | {"messages": [message]})
                    latencies.append((clock() - t0) * 1000)
                if good:
                    ok += 1

            async with asyncio.TaskGroup() as group:
                for i in range(args.prompts):
                    group.create_task(task(i))
            return ok, latencies

        return go

    # Plain aiohttp with the options ExpertLoop's session uses (transport.new_session), minus the
    # SSRF resolver (aiohttp never calls a resolver for an IP-literal host like 127.0.0.1).
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=runtime.connect_timeout, sock_read=runtime.read_timeout
        ),
        trust_env=False,
        auto_decompress=True,
    )

    async def aiohttp_one(json_body: dict[str, Any]) -> bool:
        async with session.post(stub.url, json=json_body, headers=headers) as r:
            payload = json.loads(await r.read())
        return r.status == 200 and payload["choices"][0]["message"]["content"] == JSON_TEXT

    def httpx_one(http: Any) -> Callable[[dict[str, Any]], Awaitable[bool]]:
        async def one(json_body: dict[str, Any]) -> bool:
            r = await http.post(stub.url, json=json_body, headers=headers)
            payload = json.loads(r.content)
            return r.status_code == 200 and payload["choices"][0]["message"]["content"] == JSON_TEXT

        return one

    async def raw_floor() -> Result:
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{stub.port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
        )
        wire = head.encode() + payload
        todo = iter(range(args.prompts))
        ok = 0
        latencies: list[float] = []

        async def worker() -> None:
            nonlocal ok
            reader, writer = await asyncio.open_connection("127.0.0.1", stub.port)
            try:
                for _ in todo:
                    t0 = clock()
                    writer.write(wire)
                    answer_head = await reader.readuntil(b"\r\n\r\n")
                    length = int(answer_head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    answer = json.loads(await reader.readexactly(length))
                    latencies.append((clock() - t0) * 1000)
                    if answer["choices"][0]["message"]["content"] == JSON_TEXT:
                        ok += 1
            finally:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        return ok, latencies

    references: list[Any] = []  # httpx-style clients to close at the end

    def httpx_client(module: Any) -> Any:
        http = module.AsyncClient(
            limits=module.Limits(
                max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0
            ),
            timeout=module.Timeout(runtime.read_timeout, connect=runtime.connect_timeout),
            trust_env=False,
        )
        references.append(http)
        return http

    # (name, fan-out, runs): the first run of a variant is cold (new connections), the rest warm.
    variants: list[tuple[str, Callable[[], Awaitable[Result]], int]] = [
        ("ExpertLoop run_batch", batch_with(client), args.repeats + 1),
        ("plain aiohttp + Semaphore", fan_out(aiohttp_one), args.repeats + 1),
        ("raw asyncio client (floor)", raw_floor, 2),
        (f"ExpertLoop run_batch, {args.shards} clients", batch_with(sharded), args.repeats + 1),
    ]
    # References (slow: httpx needs ~11 s per run) run once each after everything else, so that
    # they do not push the warm runs above past aiohttp's 15 s keep-alive expiry.
    if not args.no_references:
        import httpx

        variants.append(
            ("ref: plain httpx + Semaphore", fan_out(httpx_one(httpx_client(httpx))), 1)
        )
        try:
            import httpx2
        except ImportError:  # optional reference only
            pass
        else:
            variants.append(
                ("ref: plain httpx2 + Semaphore", fan_out(httpx_one(httpx_client(httpx2))), 1)
            )
    main_variants = [v for v in variants if not v[0].startswith("ref:")]
    schedule = [
        # Round-robin over the variants (all cold runs, then all warm #1, ...), so that drift of
        # the machine hits every variant alike; then the references.
        (index, name, fn)
        for index in range(max(runs for *_, runs in main_variants))
        for name, fn, runs in main_variants
        if index < runs
    ] + [(0, name, fn) for name, fn, _ in variants if name.startswith("ref:")]
    rows: list[Row] = []
    try:
        for index, name, fn in schedule:
            before = await stub.connections()
            wall, cpu, ok, latency = await timed(fn)
            rows.append((name, index, wall, cpu, ok, latency, await stub.connections() - before))
            await asyncio.sleep(0.2)  # let the stub settle between runs
    finally:
        await client.aclose()
        await sharded.aclose()
        await session.close()
        for http in references:
            await http.aclose()
    order = [name for name, *_ in variants]
    rows.sort(key=lambda row: (order.index(row[0]), row[1]))
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
    parser.add_argument(
        "--no-references", action="store_true", help="skip the httpx / httpx2 reference rows"
    )
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.repeats = 200, 1
    args.prompts = max(1, min(args.prompts, 20000))
    args.shards = max(1, min(args.shards, 64))
    args.repeats = max(0, min(args.repeats, 10))
    args.concurrency = max(1, min(args.concurrency, 100))  # the TCPConnector limit is 100

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
        f"  {'run':<44} {'wall':>7} {'req/s':>6} {'% ideal':>7} {'client CPU':>12}"
        f" {'CPU/req':>7} {'latency':>7} {'ok':>9} {'new conns':>9}"
    )
    for name, index, wall, cpu, ok, latency, conns in rows:
        if name.startswith("raw"):
            label = f"{name} (fresh #{index + 1})"
        else:
            label = f"{name} ({'cold' if index == 0 else f'warm #{index}'})"
        print(
            f"  {label:<44} {wall * 1000:5.0f}ms {args.prompts / wall:6.0f} "
            f"{ideal_s / wall * 100:6.1f}% {cpu:5.2f} s ({cpu / wall * 100:3.0f}%) "
            f"{cpu / args.prompts * 1000:5.2f}ms {latency:5.1f}ms "
            f"{f'{ok}/{args.prompts}':>9} {conns:9d}"
        )
    print("  (CPU/req: client CPU / prompts; latency: median per request, send to parsed answer)")
    print()
    medians: dict[str, float] = {}
    for name in dict.fromkeys(row[0] for row in rows):
        runs = [row for row in rows if row[0] == name]
        # Warm runs; the raw floor opens new connections every run, so all of its runs count.
        warm = [r for r in runs if r[1] > 0 or name.startswith("raw")]
        kind = "warm runs" if warm else "cold run"
        warm = warm or runs
        w = median([r[2] for r in warm])
        cpu = median([r[3] for r in warm])
        medians[name] = w
        print(
            f"{name:<34} {kind:<9} {w * 1000:6.0f} ms {args.prompts / w:5.0f} req/s "
            f"{ideal_s / w * 100:5.1f}% of ideal, {cpu / args.prompts * 1000:5.2f} ms CPU/req, "
            f"latency {median([r[5] for r in warm]):5.1f} ms "
            f"(goal >= 90%: {'met' if ideal_s / w >= 0.9 else 'NOT met'})"
        )
    print("(medians over the warm runs; references: their single cold run)")
    el, plain = medians.get("ExpertLoop run_batch"), medians.get("plain aiohttp + Semaphore")
    if el and plain:
        print(
            f"ExpertLoop run_batch reaches {plain / el * 100:.0f}% of plain aiohttp's throughput "
            f"(warm medians)"
        )
    total_wall = sum(row[2] for row in rows)
    stats = stub.stats
    print(
        f"stub: {stats.get('requests')} requests, "
        f"{int(stats.get('connections', 0)) - stub._probes} connections (without the stats "
        f"probes), at most {stats.get('max_open')} open at once, {stats.get('cpu_s', 0):.2f} s "
        f"CPU in {total_wall:.1f} s of runs ({stats.get('cpu_s', 0) / total_wall * 100:.0f}% of "
        "one core)"
    )


if __name__ == "__main__":
    main()
