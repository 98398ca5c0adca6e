"""Live export: a project's accepted data as it is now, in one format, streamed as JSON lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from expertloop.datasets import live_export
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, AppSettings, CurrentUser
from expertloop.workbench.lineage import LineageFilters

router = APIRouter(tags=["datasets"], responses=ERRORS)

# Lines are sent in blocks of about this size: one thread hop and one send per block, not per
# row. The first block goes as soon as it holds anything, so the first byte leaves at once.
BLOCK_BYTES = 64 * 1024


def _next_block(lines: Iterator[bytes], first: bool) -> bytes:
    """Read lines until a block is full (or the first line, for the first block)."""
    parts: list[bytes] = []
    size = 0
    for line in lines:
        parts.append(line)
        size += len(line)
        if first or size >= BLOCK_BYTES:
            break
    return b"".join(parts)


async def _blocks(lines: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Pull blocks from the (blocking) line generator in worker threads; always close it."""
    try:
        first = True
        while block := await run_in_threadpool(_next_block, lines, first):
            first = False
            yield block
    finally:
        # The client may be gone (cancelled): still end the read transaction, in a thread.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(lines.close)


@router.get(
    "/projects/{project_id}/export",
    response_class=StreamingResponse,
    summary="Stream a live export",
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def live_export_route(
    project_id: int,
    request: Request,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    format_name: Annotated[
        str, Query(alias="format", max_length=40, description="An export format, e.g. openai-sft")
    ],
    domain: Annotated[str | None, Query(max_length=100)] = None,
    accepted_from: Annotated[dt.date | None, Query(description="On or after (UTC)")] = None,
    accepted_to: Annotated[dt.date | None, Query(description="On or before (UTC)")] = None,
    endpoint_id: Annotated[
        list[int] | None, Query(max_length=100, description="Only these target models' runs")
    ] = None,
) -> StreamingResponse:
    """Stream the project's accepted problem sets now, in one format, as JSONL.

    Not a snapshot: nothing is stored, numbered or hashed, there is no manifest or card, and
    two downloads differ when problem sets were accepted in between. Operators and the
    project's clients only. Rows come out as they are read (problem sets in id order).
    """
    export = live_export.prepare(
        session=db,
        actor=user,
        project_id=project_id,
        format_name=format_name,
        secret_key=settings.secret_key.get_secret_value(),
        filters=LineageFilters(
            domain=(domain or "").strip() or None,
            accepted_from=accepted_from,
            accepted_to=accepted_to,
            endpoint_ids=tuple(sorted(set(endpoint_id))) if endpoint_id else None,
        ),
    )
    # The rows are read in a session of the response's own: the request's closes before the
    # body is sent.
    lines = live_export.stream(request.app.state.session_factory, export)
    return StreamingResponse(
        _blocks(lines),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        },
    )
