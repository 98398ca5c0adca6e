"""Model endpoints and runs through the API: who may do what, streaming, replay, no key leaks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from expertloop.llm.models import ModelRun
from tests.factories import World
from tests.llm_stub import running_stub

CANARY = "sk-canary-KEY-9f8e7d6c5b4a"


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with running_stub() as url:
        yield url


def _add(api, **fields):  # type: ignore[no-untyped-def]
    body = {
        "name": "Stub",
        "provider": "openai_compatible",
        "model_id": "stub-1",
        "api_key": CANARY,
        "defaults": {"temperature": 0.3, "max_tokens": 64},
    }
    body.update(fields)
    return api.post("/api/v1/models", json=body)


def sse(response) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def, type-arg]
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
    return events


def test_only_operators_manage_endpoints(login_as, world: World, stub_url: str) -> None:  # type: ignore[no-untyped-def]
    for outsider in (world.client_a, world.expert_a, world.reviewer_a):
        assert _add(login_as(outsider), base_url=stub_url).status_code == 403
    ops = login_as(world.operator)
    created = _add(ops, base_url=stub_url)
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["has_api_key"] is True and "api_key" not in out
    assert _add(ops, base_url=stub_url).status_code == 409  # same name
    # Clients see names to choose from; experts see nothing.
    client_view = login_as(world.client_a).get("/api/v1/models").json()
    assert client_view == [
        {"id": out["id"], "name": "Stub", "provider": "openai_compatible", "model_id": "stub-1"}
    ]
    assert login_as(world.expert_a).get("/api/v1/models").status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/v1",
        "http://10.0.0.5/v1",
        "http://192.168.1.10:11434/v1",
        "http://[::ffff:127.0.0.2]/v1",
        "http://127.0.0.2:8080/v1",
        "ftp://models.example.com/v1",
        "file:///etc/passwd",
        "http://user:pw@8.8.8.8/v1",
    ],
)
def test_unsafe_endpoint_urls_are_refused_when_saved(login_as, world: World, url: str) -> None:  # type: ignore[no-untyped-def]
    r = _add(login_as(world.operator), base_url=url)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unsafe_endpoint"


def test_test_call_and_stale_update(login_as, world: World, stub_url: str) -> None:  # type: ignore[no-untyped-def]
    ops = login_as(world.operator)
    endpoint = _add(ops, base_url=stub_url).json()
    result = ops.post(f"/api/v1/models/{endpoint['id']}/test").json()
    assert result["ok"] is True and result["answer"].startswith("Stub answer to:")
    patched = ops.patch(
        f"/api/v1/models/{endpoint['id']}", json={"version": 1, "model_id": "stub-2"}
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2
    stale = ops.patch(f"/api/v1/models/{endpoint['id']}", json={"version": 1, "model_id": "x"})
    assert stale.status_code == 409


def _setup_project_model(login_as, world: World, stub_url: str, **fields) -> int:  # type: ignore[no-untyped-def]
    endpoint = _add(login_as(world.operator), base_url=stub_url, **fields).json()
    put = login_as(world.client_a).put(
        f"/api/v1/projects/{world.project_a.id}/models", json={"endpoint_ids": [endpoint["id"]]}
    )
    assert put.status_code == 200, put.text
    return int(endpoint["id"])


def test_target_models_and_run_permissions(login_as, world: World, stub_url: str) -> None:  # type: ignore[no-untyped-def]
    endpoint_id = _setup_project_model(login_as, world, stub_url)
    url = f"/api/v1/projects/{world.project_a.id}/runs"
    body = {"endpoint_id": endpoint_id, "messages": [{"role": "user", "content": "Budget?"}]}
    expert = login_as(world.expert_a)
    r = expert.post(url, json=body)
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] == "ok" and run["answer"] == "Stub answer to: Budget?"
    assert run["messages"] == [{"role": "user", "content": "Budget?"}]
    assert run["latency_ms"] > 0 and run["completion_tokens"] == 4
    # A client of the project sees runs but does not run models; outsiders get 404.
    assert login_as(world.client_a).post(url, json=body).status_code == 403
    assert login_as(world.expert_b).post(url, json=body).status_code == 404
    assert login_as(world.client_b).get(f"/api/v1/runs/{run['id']}").status_code == 404
    assert login_as(world.client_a).get(f"/api/v1/runs/{run['id']}").status_code == 200
    # Only target models may be run; experts cannot change the allow-list.
    other = _add(login_as(world.operator), base_url=stub_url, name="Other").json()
    body_other = dict(body, endpoint_id=other["id"])
    assert expert.post(url, json=body_other).status_code == 422
    assert (
        expert.put(
            f"/api/v1/projects/{world.project_a.id}/models", json={"endpoint_ids": [other["id"]]}
        ).status_code
        == 403
    )


def test_streaming_run_replay_and_history(
    login_as, world: World, stub_url: str, db: Session
) -> None:  # type: ignore[no-untyped-def]
    endpoint_id = _setup_project_model(login_as, world, stub_url)
    expert = login_as(world.expert_a)
    body = {
        "endpoint_id": endpoint_id,
        "params": {"seed": 7, "max_tokens": 32},
        "messages": [{"role": "user", "content": "Forecast growth"}],
    }
    with expert.client.stream(
        "POST",
        f"/api/v1/projects/{world.project_a.id}/runs/stream",
        json=body,
        headers={"X-CSRF-Token": expert.csrf},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse(response)
    kinds = [k for k, _ in events]
    assert kinds[0] == "run" and kinds[-1] == "done" and kinds.count("delta") == 5
    streamed = "".join(d["text"] for k, d in events if k == "delta")
    done = events[-1][1]
    assert streamed == done["answer"] == "Stub answer to: Forecast growth"
    assert done["status"] == "ok" and done["ttft_ms"] is not None
    assert done["params"]["seed"] == 7
    stored = db.get(ModelRun, done["id"])
    assert stored is not None
    db.refresh(stored)
    assert stored.raw_request["body"]["seed"] == 7  # the exact request is kept
    replay = expert.post(f"/api/v1/runs/{done['id']}/replay")
    assert replay.status_code == 201
    assert replay.json()["replay_of_id"] == done["id"]
    assert replay.json()["messages"] == done["messages"]
    history = expert.get(f"/api/v1/projects/{world.project_a.id}/runs").json()
    assert [r["id"] for r in history][:2] == [replay.json()["id"], done["id"]]


def test_api_key_never_leaks(
    login_as, world: World, stub_url: str, db: Session, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    ops = login_as(world.operator)
    seen: list[str] = []
    # One endpoint that works and one whose server echoes the Authorization header back.
    good = _setup_project_model(login_as, world, stub_url)
    echo = _add(ops, base_url=stub_url, name="Echo", model_id="echo-auth").json()
    login_as(world.client_a).put(
        f"/api/v1/projects/{world.project_a.id}/models", json={"endpoint_ids": [good, echo["id"]]}
    )
    seen.append(ops.get("/api/v1/models").text)
    seen.append(ops.get(f"/api/v1/models/{echo['id']}").text)
    test = ops.post(f"/api/v1/models/{echo['id']}/test")
    assert test.json()["ok"] is False and "API key" in test.json()["error"]
    assert "[redacted]" in test.json()["upstream_error"]
    seen.append(test.text)
    url = f"/api/v1/projects/{world.project_a.id}/runs"
    for endpoint_id in (good, echo["id"]):
        body = {"endpoint_id": endpoint_id, "messages": [{"role": "user", "content": "hi"}]}
        seen.append(ops.post(url, json=body).text)
        seen.append(login_as(world.expert_a).post(url, json=body).text)
    seen.append(ops.get(url).text)
    seen.append(ops.get("/api/v1/audit?limit=500").text)
    seen.append(ops.get("/models").text)
    seen.append(ops.get(f"/projects/{world.project_a.id}").text)
    seen.append(ops.get("/api/v1/openapi.json").text)
    for blob in seen:
        assert CANARY not in blob
    for record in caplog.records:
        assert CANARY not in record.getMessage()
    # Stored runs (the "export" of a run today) and audit rows hold no key either; the
    # endpoint row holds only ciphertext.
    db.expire_all()
    for run in db.scalars(select(ModelRun)):
        assert CANARY not in json.dumps(
            [run.raw_request, run.raw_response, run.upstream_error, run.error_reason, run.params]
        )
    dump = db.execute(text("SELECT api_key_encrypted FROM model_endpoints")).scalars().all()
    assert dump and all(CANARY not in (value or "") for value in dump)
    audit = db.execute(text("SELECT data FROM audit_log")).scalars().all()
    assert all(CANARY not in json.dumps(row) for row in audit)


def test_removed_endpoint_cannot_run_but_runs_stay(login_as, world: World, stub_url: str) -> None:  # type: ignore[no-untyped-def]
    endpoint_id = _setup_project_model(login_as, world, stub_url)
    expert = login_as(world.expert_a)
    url = f"/api/v1/projects/{world.project_a.id}/runs"
    body = {"endpoint_id": endpoint_id, "messages": [{"role": "user", "content": "x"}]}
    run_id = expert.post(url, json=body).json()["id"]
    assert login_as(world.operator).delete(f"/api/v1/models/{endpoint_id}").status_code == 204
    assert expert.post(url, json=body).status_code == 422
    assert expert.get(f"/api/v1/runs/{run_id}").json()["status"] == "ok"
    assert (
        login_as(world.client_a).get(f"/api/v1/projects/{world.project_a.id}/models").json() == []
    )


def test_stream_cut_by_the_browser_keeps_the_partial_answer(
    login_as,
    world: World,
    app,
    db: Session,  # type: ignore[no-untyped-def]
) -> None:
    import asyncio

    from expertloop.llm import endpoints as endpoints_uc
    from expertloop.llm import runs as runs_uc
    from expertloop.web.api.runs import stream_events

    hub = app.state.hub
    endpoint = endpoints_uc.add_endpoint(
        session=db,
        actor=None,
        box=hub.box,
        policy=hub.runtime.policy,
        name="Slow script",
        provider="scripted",
        model_id="s",
        options={"delay": 0.01},
    )
    run = runs_uc.start_run(
        session=db,
        endpoint=endpoint,
        project_id=world.project_a.id,
        messages=[{"role": "user", "content": "one two three four"}],
        params={},
    )
    db.commit()

    async def read_two_then_leave() -> list[bytes]:
        events = stream_events(app.state.session_factory, hub, endpoint, run, world.expert_a)
        got = [await events.__anext__(), await events.__anext__(), await events.__anext__()]
        await events.aclose()  # what Starlette does when the browser disconnects
        return got

    got = asyncio.run(read_two_then_leave())
    assert got[0].startswith(b"event: run") and got[1].startswith(b"event: delta")
    db.expire_all()
    stored = db.get(ModelRun, run.id)
    assert stored is not None
    assert stored.status == "incomplete"
    assert stored.answer == "Scripted answer"  # the two words that arrived are kept
    assert "closed before the answer finished" in (stored.error_reason or "")


def test_target_list_hides_endpoint_details_from_non_operators(
    login_as,
    world: World,
    stub_url: str,  # type: ignore[no-untyped-def]
) -> None:
    _setup_project_model(login_as, world, stub_url, defaults={"system_prompt": "secret sauce"})
    url = f"/api/v1/projects/{world.project_a.id}/models"
    for viewer in (world.client_a, world.expert_a):
        listed = login_as(viewer).get(url).json()
        assert set(listed[0]) == {"id", "name", "provider", "model_id"}
        assert "secret sauce" not in str(listed) and stub_url not in str(listed)
    assert login_as(world.operator).get(url).json()[0]["base_url"] == stub_url


def test_rename_to_a_taken_name_is_a_conflict(login_as, world: World, stub_url: str) -> None:  # type: ignore[no-untyped-def]
    ops = login_as(world.operator)
    _add(ops, base_url=stub_url, name="First")
    second = _add(ops, base_url=stub_url, name="Second").json()
    r = ops.patch(f"/api/v1/models/{second['id']}", json={"version": 1, "name": "First"})
    assert r.status_code == 409


def test_endpoint_that_cannot_be_built_fails_the_run_cleanly(
    login_as,
    world: World,
    stub_url: str,
    db: Session,  # type: ignore[no-untyped-def]
) -> None:
    endpoint_id = _setup_project_model(login_as, world, stub_url)
    # Simulate a rotated secret key: the stored ciphertext no longer decrypts.
    db.execute(
        text(
            "UPDATE model_endpoints SET api_key_encrypted = 'not-a-valid-token', "
            "version = version + 1 WHERE id = :i"
        ),
        {"i": endpoint_id},
    )
    db.commit()
    expert = login_as(world.expert_a)
    body = {"endpoint_id": endpoint_id, "messages": [{"role": "user", "content": "x"}]}
    run = expert.post(f"/api/v1/projects/{world.project_a.id}/runs", json=body)
    assert run.status_code == 201
    assert run.json()["status"] == "failed"
    assert "EXPERTLOOP_SECRET_KEY" in run.json()["error_reason"]
    with expert.client.stream(
        "POST",
        f"/api/v1/projects/{world.project_a.id}/runs/stream",
        json=body,
        headers={"X-CSRF-Token": expert.csrf},
    ) as response:
        events = sse(response)
    assert events[-1][0] == "done" and events[-1][1]["status"] == "failed"


def test_a_clients_own_model_is_invisible_to_other_clients(
    login_as,
    world: World,
    stub_url: str,  # type: ignore[no-untyped-def]
) -> None:
    ops = login_as(world.operator)
    own = _add(ops, base_url=stub_url, name="B checkpoint", organisation_id=world.org_b.id)
    assert own.status_code == 201 and own.json()["organisation_id"] == world.org_b.id
    shared = _add(ops, base_url=stub_url, name="Shared").json()
    names_a = {e["name"] for e in login_as(world.client_a).get("/api/v1/models").json()}
    names_b = {e["name"] for e in login_as(world.client_b).get("/api/v1/models").json()}
    assert names_a == {"Shared"} and names_b == {"Shared", "B checkpoint"}
    # Client A cannot make B's model a target, not even an operator can for A's project.
    url = f"/api/v1/projects/{world.project_a.id}/models"
    for who in (world.client_a, world.operator):
        r = login_as(who).put(url, json={"endpoint_ids": [own.json()["id"]]})
        assert r.status_code == 422
    ok = login_as(world.client_a).put(url, json={"endpoint_ids": [shared["id"]]})
    assert ok.status_code == 200
    # An endpoint cannot belong to the operator's organisation.
    bad = _add(ops, base_url=stub_url, name="X", organisation_id=world.operator.organisation_id)
    assert bad.status_code == 422


def test_concurrent_endpoint_edit_loses_instead_of_overwriting(
    login_as,
    world: World,
    stub_url: str,
    db: Session,
    app,  # type: ignore[no-untyped-def]
) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    from expertloop.llm import endpoints as endpoints_uc
    from expertloop.llm.models import ModelEndpoint

    endpoint_id = _add(login_as(world.operator), base_url=stub_url).json()["id"]
    mine = db.get(ModelEndpoint, endpoint_id)
    assert mine is not None and mine.version == 1
    # Another request saves first (it bumps the version behind our back).
    db.execute(
        text("UPDATE model_endpoints SET version = 2, model_id = 'theirs' WHERE id = :i"),
        {"i": endpoint_id},
    )
    hub = app.state.hub
    with pytest.raises(StaleDataError):
        endpoints_uc.update_endpoint(
            session=db,
            actor=None,
            box=hub.box,
            policy=hub.runtime.policy,
            endpoint=mine,
            version=1,
            changes={"model_id": "mine"},
        )
    db.rollback()
    assert db.get(ModelEndpoint, endpoint_id).model_id == "stub-1"  # type: ignore[union-attr]
