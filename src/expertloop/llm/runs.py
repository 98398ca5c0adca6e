"""Record model runs whole: start a row, call the model, store everything it returned."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.errors import NotFound
from expertloop.llm.hub import ModelHub, params_from_dict
from expertloop.llm.interface import ChatMessage, Completion, ModelRequest, StreamEvent
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.types import utcnow

# Raw events kept per run, so that a runaway stream cannot bloat the database.
_RAW_EVENTS_CAP = 2000


def request_of(run: ModelRun) -> ModelRequest:
    """Rebuild a run's messages and parameters (replays use the endpoint's current defaults)."""
    return ModelRequest(
        tuple(ChatMessage(m["role"], m["content"]) for m in run.messages),
        params_from_dict(run.params),
    )


def start_run(
    *,
    session: Session,
    endpoint: ModelEndpoint,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    project_id: int | None = None,
    user_id: int | None = None,
    replay_of_id: int | None = None,
) -> ModelRun:
    """Create the run's row (status "running") before the model is called."""
    run = ModelRun(
        endpoint_id=endpoint.id,
        project_id=project_id,
        user_id=user_id,
        replay_of_id=replay_of_id,
        provider=endpoint.provider,
        model_id=endpoint.model_id,
        params={k: v for k, v in params.items() if v is not None},
        messages=messages,
        status="running",
    )
    session.add(run)
    session.flush()
    return run


def finish_run(*, session: Session, run_id: int, completion: Completion) -> ModelRun:
    """Store how the run ended: answer, status, reason, usage, timings, raw exchange."""
    run = session.get(ModelRun, run_id)
    if run is None:
        raise NotFound("Run not found.")
    raw = completion.raw_response
    if isinstance(raw, list) and len(raw) > _RAW_EVENTS_CAP:
        raw = [*raw[:_RAW_EVENTS_CAP], {"truncated": len(raw) - _RAW_EVENTS_CAP}]
    run.answer = completion.text
    run.status = completion.status.value
    run.finish_reason = completion.finish_reason
    run.error_reason = completion.error
    run.upstream_error = completion.upstream_error
    run.prompt_tokens = completion.usage.prompt_tokens
    run.completion_tokens = completion.usage.completion_tokens
    run.latency_ms = completion.latency_ms
    run.ttft_ms = completion.ttft_ms
    run.attempts = completion.attempts
    run.raw_request = completion.raw_request
    run.raw_response = raw
    run.finished_at = utcnow()
    session.flush()
    return run


def stream_model(
    hub: ModelHub, endpoint: ModelEndpoint, run: ModelRun
) -> AsyncGenerator[StreamEvent, None]:
    """Stream the model's answer for a started run (no database work here)."""
    return hub.stream(endpoint, request_of(run))


async def call_model(hub: ModelHub, endpoint: ModelEndpoint, run: ModelRun) -> Completion:
    """Return the model's whole answer for a started run (no database work here)."""
    return await hub.complete(endpoint, request_of(run))


def list_runs(
    *,
    session: Session,
    project_id: int,
    user_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ModelRun]:
    """Return a project's runs (only one user's when ``user_id`` is given), newest first."""
    query = (
        select(ModelRun)
        .where(ModelRun.project_id == project_id)
        .order_by(ModelRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if user_id is not None:
        query = query.where(ModelRun.user_id == user_id)
    return list(session.scalars(query))
