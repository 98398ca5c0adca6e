"""Model runs on a project: whole answers, streamed answers (SSE), replays, history."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from expertloop.accounts.models import User
from expertloop.db import transaction
from expertloop.llm import runs as runs_uc
from expertloop.llm.hub import ModelHub
from expertloop.llm.interface import Completion, RunStatus, TextDelta
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.llm.policies import can_manage_endpoints, can_see_upstream_errors
from expertloop.llm.schemas import EndpointOut, EndpointPublicOut, RunIn, RunOut
from expertloop.projects import projects as projects_uc
from expertloop.projects import targets
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, CurrentUser, Hub

router = APIRouter(tags=["runs"], responses=ERRORS)


class TargetsIn(BaseModel):
    endpoint_ids: list[int] = Field(max_length=50)


def run_out(run: ModelRun, viewer: User) -> RunOut:
    """Serialise a run; the endpoint's own error body only for operators."""
    out = RunOut.model_validate(run)
    if not can_see_upstream_errors(viewer):
        out.upstream_error = None
    return out


def _endpoints_out(rows: list[ModelEndpoint], viewer: User) -> list[EndpointPublicOut]:
    shape = EndpointOut if can_manage_endpoints(viewer) else EndpointPublicOut
    return [shape.model_validate(e) for e in rows]


@router.get("/projects/{project_id}/models", response_model=list[EndpointOut | EndpointPublicOut])
def list_targets(project_id: int, user: CurrentUser, db: DB) -> list[EndpointPublicOut]:
    """List the project's target models (operators see the endpoint details)."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    return _endpoints_out(targets.list_targets(session=db, actor=user, project=project), user)


@router.put("/projects/{project_id}/models", response_model=list[EndpointOut | EndpointPublicOut])
def set_targets(
    project_id: int, body: TargetsIn, user: CurrentUser, db: DB
) -> list[EndpointPublicOut]:
    """Replace the project's target models (its client organisation or an operator)."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    rows = targets.set_targets(
        session=db, actor=user, project=project, endpoint_ids=body.endpoint_ids
    )
    return _endpoints_out(rows, user)


def _start(db: Session, user: User, project_id: int, body: RunIn) -> tuple[ModelRun, ModelEndpoint]:
    _project, endpoint = targets.authorize_run(
        session=db, actor=user, project_id=project_id, endpoint_id=body.endpoint_id
    )
    run = runs_uc.start_run(
        session=db,
        endpoint=endpoint,
        messages=[m.model_dump() for m in body.messages],
        params=body.params.model_dump(),
        project_id=project_id,
        user_id=user.id,
    )
    db.commit()  # the run exists before the model is called; no transaction is held meanwhile
    return run, endpoint


@router.post("/projects/{project_id}/runs", response_model=RunOut, status_code=201)
async def create_run(project_id: int, body: RunIn, user: CurrentUser, db: DB, hub: Hub) -> RunOut:
    """Run a prompt on one of the project's target models and return the whole answer."""
    # Database work in the thread pool; the model call awaits on the event loop, so a slow
    # model holds no worker thread and no database transaction.
    run, endpoint = await run_in_threadpool(_start, db, user, project_id, body)
    completion = await runs_uc.call_model(hub, endpoint, run)
    finished = await run_in_threadpool(_finish, db, run.id, completion)
    return run_out(finished, user)


def _finish(db: Session, run_id: int, completion: Completion) -> ModelRun:
    return runs_uc.finish_run(session=db, run_id=run_id, completion=completion)


def sse(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def _finish_in_new_session(
    factory: sessionmaker[Session], run_id: int, completion: Completion, viewer: User
) -> dict[str, object]:
    with transaction(factory) as session:
        run = runs_uc.finish_run(session=session, run_id=run_id, completion=completion)
        return run_out(run, viewer).model_dump(mode="json")


async def stream_events(
    factory: sessionmaker[Session],
    hub: ModelHub,
    endpoint: ModelEndpoint,
    run: ModelRun,
    viewer: User,
    extra: dict[str, object] | None = None,
) -> AsyncIterator[bytes]:
    """Stream a started run as SSE and store how it ended, even when the client goes away."""
    parts: list[str] = []
    final: Completion | None = None
    try:
        head = {"id": run.id, "endpoint_id": endpoint.id, "model_id": run.model_id}
        yield sse("run", {**head, **(extra or {})})
        async with aclosing(runs_uc.stream_model(hub, endpoint, run)) as events:
            async for event in events:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    yield sse("delta", {"text": event.text})
                else:
                    final = event
    finally:
        if final is None:  # the browser went away (or the server is stopping): keep what came
            final = Completion(
                text="".join(parts),
                status=RunStatus.incomplete,
                error="The connection closed before the answer finished.",
            )
        with anyio.CancelScope(shield=True):
            summary = await run_in_threadpool(
                _finish_in_new_session, factory, run.id, final, viewer
            )
    yield sse("done", summary)


@router.post(
    "/projects/{project_id}/runs/stream", responses={200: {"content": {"text/event-stream": {}}}}
)
def stream_run(
    project_id: int, body: RunIn, request: Request, user: CurrentUser, db: DB, hub: Hub
) -> StreamingResponse:
    """Run a prompt and stream the answer as Server-Sent Events: ``run``, ``delta``…, ``done``."""
    run, endpoint = _start(db, user, project_id, body)
    factory = request.app.state.session_factory
    return StreamingResponse(
        stream_events(factory, hub, endpoint, run, user),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/projects/{project_id}/runs", response_model=list[RunOut])
def list_runs(
    project_id: int,
    user: CurrentUser,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RunOut]:
    """List a project's runs, newest first."""
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    mine = None if targets.can_see_all_runs(user, project) else user.id
    rows = runs_uc.list_runs(
        session=db, project_id=project_id, user_id=mine, limit=limit, offset=offset
    )
    return [run_out(r, user) for r in rows]


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: int, user: CurrentUser, db: DB) -> RunOut:
    """Return one run of a project you may see."""
    return run_out(targets.get_run(session=db, actor=user, run_id=run_id), user)


@router.post("/runs/{run_id}/replay", response_model=RunOut, status_code=201)
async def replay_run(run_id: int, user: CurrentUser, db: DB, hub: Hub) -> RunOut:
    """Send a stored run's messages and parameters again; the new run links to the old one."""
    run, endpoint = await run_in_threadpool(_start_replay, db, user, run_id)
    completion = await runs_uc.call_model(hub, endpoint, run)
    return run_out(await run_in_threadpool(_finish, db, run.id, completion), user)


def _start_replay(db: Session, user: User, run_id: int) -> tuple[ModelRun, ModelEndpoint]:
    original = targets.get_run(session=db, actor=user, run_id=run_id)
    assert original.project_id is not None
    _project, endpoint = targets.authorize_run(
        session=db, actor=user, project_id=original.project_id, endpoint_id=original.endpoint_id
    )
    run = runs_uc.start_run(
        session=db,
        endpoint=endpoint,
        messages=original.messages,
        params=original.params,
        project_id=original.project_id,
        user_id=user.id,
        replay_of_id=original.id,
    )
    db.commit()
    return run, endpoint
