"""Live export through the API: the project's accepted data now, in one format, streamed as JSON
lines equal to what the format module gives; the project's clients and operators only."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from expertloop.accounts import tokens as tokens_uc
from expertloop.accounts.models import User
from expertloop.datasets import live_export
from expertloop.datasets.formats import FORMATS, FormatContext
from expertloop.datasets.writers import json_line
from expertloop.settings import Settings
from expertloop.web.api import exports
from expertloop.workbench import lineage
from expertloop.workbench.models import ProblemSet
from tests.factories import World, make_problem_set, make_step, scripted_target
from tests.snapshot_data import CONTEXT, accepted_problem_set

API = "/api/v1"


@pytest.fixture
def accepted(db: Session, app: FastAPI, world: World) -> list[int]:
    """Three accepted problem sets on A's project, and one in progress (never exported)."""
    endpoint = scripted_target(db, app.state.hub, world.project_a, name="Scripted A")
    ids = [
        accepted_problem_set(
            db, world.project_a, world.expert_a, world.reviewer_a, endpoint, title=f"Runway {n}"
        ).id
        for n in (1, 2, 3)
    ]
    draft = make_problem_set(db, world.project_a, world.expert_a, "Still a draft")
    make_step(db, draft, world.expert_a, prompt="A draft prompt nobody exports")
    db.commit()
    return ids


def expected(db: Session, settings: Settings, project_id: int, name: str, **filters: Any) -> bytes:
    """What the format module gives for the project's accepted problem sets, as JSON lines."""
    key = live_export.pseudonym_key(settings.secret_key.get_secret_value(), project_id)
    ctx = FormatContext(pseudonym_key=key)
    stream = lineage.accepted(
        session=db, project_id=project_id, filters=lineage.LineageFilters(**filters)
    )
    return b"".join(json_line(row).encode() for ps in stream for row in FORMATS[name].rows(ps, ctx))


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_streams_what_the_format_module_gives(  # type: ignore[no-untyped-def]
    name: str, login_as, world: World, db: Session, settings: Settings, accepted: list[int]
) -> None:
    r = login_as(world.client_a).get(f"{API}/projects/{world.project_a.id}/export?format={name}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-ndjson"
    assert r.headers["content-disposition"] == (
        f'attachment; filename="a-s-confidential-project-{name}-live.jsonl"'
    )
    assert r.headers["cache-control"] == "no-store"
    want = expected(db, settings, world.project_a.id, name)
    assert r.content == want
    rows = [json.loads(line) for line in r.content.decode().splitlines()]
    assert all(isinstance(row, dict) for row in rows)
    # No expert's name or email in any row; the draft is never exported.
    for who in (world.expert_a, world.reviewer_a):
        assert who.name not in r.text and who.email not in r.text
    assert "A draft prompt nobody exports" not in r.text


def test_openai_sft_rows_are_one_conversation_per_accepted_step(  # type: ignore[no-untyped-def]
    login_as, world: World, accepted: list[int]
) -> None:
    r = login_as(world.operator).get(
        f"{API}/projects/{world.project_a.id}/export?format=openai-sft"
    )
    assert r.status_code == 200
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert len(rows) == len(accepted)
    for row in rows:
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        # Unicode of the context (Arabic, emoji, combining marks) arrives unescaped and whole.
        assert CONTEXT in row["messages"][0]["content"]
    assert CONTEXT.encode() in r.content


def test_filters_narrow_the_export(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, settings: Settings, accepted: list[int]
) -> None:
    ps = db.get(ProblemSet, accepted[1])
    assert ps is not None
    ps.domain = "treasury"
    db.commit()
    api = login_as(world.client_a)
    base = f"{API}/projects/{world.project_a.id}/export?format=iterations"
    r = api.get(f"{base}&domain=treasury")
    assert r.status_code == 200
    assert r.content == expected(db, settings, world.project_a.id, "iterations", domain="treasury")
    assert [json.loads(line)["problem_set_id"] for line in r.text.splitlines()] == [accepted[1]]
    assert api.get(f"{base}&accepted_to=2000-01-01").content == b""
    bad = api.get(f"{base}&accepted_from=2026-02-01&accepted_to=2026-01-01")
    assert bad.status_code == 422


def test_unknown_format_is_refused_with_the_known_ones(  # type: ignore[no-untyped-def]
    login_as, world: World, accepted: list[int]
) -> None:
    api = login_as(world.client_a)
    r = api.get(f"{API}/projects/{world.project_a.id}/export?format=csv")
    assert r.status_code == 422
    assert "openai-sft" in r.text
    assert api.get(f"{API}/projects/{world.project_a.id}/export").status_code == 422


@pytest.mark.parametrize("who", ["client_b", "expert_a", "reviewer_a"])
def test_outsiders_and_staff_get_404(  # type: ignore[no-untyped-def]
    who: str, login_as, world: World, accepted: list[int]
) -> None:
    r = login_as(getattr(world, who)).get(
        f"{API}/projects/{world.project_a.id}/export?format=openai-sft"
    )
    assert r.status_code == 404
    assert "Runway" not in r.text and world.project_a.name not in r.text


def test_a_project_that_does_not_exist_is_404(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    r = login_as(world.operator).get(f"{API}/projects/999999/export?format=openai-sft")
    assert r.status_code == 404


# -- streamed: the body leaves as several ASGI messages, and a client that leaves ends the read --


def _token(db: Session, user: User) -> str:
    secret, _row = tokens_uc.create_token(session=db, user=user, name="live export test")
    db.commit()
    return secret


def _call(
    app: FastAPI, path: str, token: str, *, leave_after_first: bool = False
) -> list[dict[str, Any]]:
    """Call the ASGI app directly and return every message it sends (headers, body parts)."""
    sent: list[dict[str, Any]] = []
    first_body = anyio.Event()
    scope = {
        "type": "http",
        # Starlette listens for a disconnect while it streams below ASGI spec 2.4.
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path.split("?")[0],
        "raw_path": path.split("?")[0].encode(),
        "query_string": path.split("?", 1)[1].encode() if "?" in path else b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if leave_after_first:
            await first_body.wait()
            return {"type": "http.disconnect"}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_body.set()
            if leave_after_first:
                await anyio.sleep(1)  # the disconnect cancels the stream meanwhile

    async def main() -> None:
        await app(scope, receive, send)

    anyio.run(main)
    return sent


def test_the_body_is_streamed_in_parts_as_rows_are_read(  # type: ignore[no-untyped-def]
    app: FastAPI, world: World, db: Session, settings: Settings, accepted: list[int], monkeypatch
) -> None:
    monkeypatch.setattr(exports, "BLOCK_BYTES", 1)  # one line per message
    path = f"{API}/projects/{world.project_a.id}/export?format=openai-sft"
    sent = _call(app, path, _token(db, world.client_a))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    want = expected(db, settings, world.project_a.id, "openai-sft")
    assert [m["body"] for m in bodies[:-1]] == want.splitlines(keepends=True)
    assert all(m["more_body"] for m in bodies[:-1])
    assert bodies[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_a_client_that_goes_away_ends_the_read_session(  # type: ignore[no-untyped-def]
    app: FastAPI, world: World, db: Session, accepted: list[int], monkeypatch
) -> None:
    monkeypatch.setattr(exports, "BLOCK_BYTES", 1)
    events: list[str] = []
    real = live_export.stream

    def watched(factory: Any, export: live_export.LiveExport) -> Generator[bytes, None, None]:
        events.append("opened")
        try:
            yield from real(factory, export)
            events.append("finished")
        finally:
            events.append("closed")

    monkeypatch.setattr(live_export, "stream", watched)
    path = f"{API}/projects/{world.project_a.id}/export?format=openai-sft"
    sent = _call(app, path, _token(db, world.client_a), leave_after_first=True)
    bodies = [m for m in sent if m["type"] == "http.response.body" and m["body"]]
    assert len(bodies) == 1  # of three lines: the rest was never read
    assert events == ["opened", "closed"]
