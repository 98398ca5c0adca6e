"""Webhooks through the API: signed deliveries verified on a real receiver, retries with
growing backoff and their log, the events that produce deliveries, address checks, who may do
what, and a secret shown once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from expertloop import events
from expertloop.datasets.events import SnapshotReady
from expertloop.db import transaction
from expertloop.errors import ValidationFailed
from expertloop.events import emit
from expertloop.jobs import records
from expertloop.types import utcnow
from expertloop.web.app import create_app
from expertloop.webhooks import outbox, tasks
from expertloop.webhooks.delivery import RETRY_DELAYS
from expertloop.webhooks.models import WebhookAttempt, WebhookDelivery
from expertloop.webhooks.subscriptions import new_secret
from tests.conftest import ApiClient, database_url, make_settings
from tests.factories import World, scripted_target
from tests.webhook_receiver import Receiver, running_receiver

API = "/api/v1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def create(api, url: str, events_: list[str], **extra: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = api.post(f"{API}/webhooks", json={"url": url, "events": events_, **extra})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def snapshot_ready(db: Session, world: World, snapshot_id: int = 41, number: int = 3) -> None:
    """Record the event the snapshot builder records when a snapshot is ready."""
    emit(
        SnapshotReady(
            actor_user_id=world.client_a.id,
            organisation_id=world.org_a.id,
            subject_type="snapshot",
            subject_id=str(snapshot_id),
            project_id=world.project_a.id,
            number=number,
        ),
        session=db,
    )
    db.commit()


def deliveries_of(api, webhook_id: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = api.get(f"{API}/webhooks/{webhook_id}/deliveries")
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def time_passes(db: Session, delivery_id: int) -> None:
    """Make the delivery's next retry due now (instead of sleeping until it is)."""
    db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
    )
    db.commit()


def test_a_delivery_is_signed_and_verifies_on_a_real_receiver(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, receiver: Receiver
) -> None:
    api = login_as(world.client_a)
    hook = create(api, receiver.url, ["snapshot.ready"], description="Our training pipeline")
    secret = hook["secret"]
    assert secret.startswith("whsec_") and hook["organisation_id"] == world.org_a.id

    snapshot_ready(db, world, snapshot_id=41, number=3)

    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.path == "/hooks/expertloop"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("ExpertLoop-Webhooks/")
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "snapshot.ready"
    dt.datetime.fromisoformat(payload["timestamp"])
    assert payload["data"] == {
        "snapshot_id": 41,
        "project_id": world.project_a.id,
        "number": 3,
        "url": "http://testserver/api/v1/snapshots/41",
        "download_url": "http://testserver/api/v1/snapshots/41/archive",
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(got.body, got.headers)
    tampered = got.body.replace(b'"number":3', b'"number":4')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, got.headers)

    [log] = deliveries_of(api, hook["id"])
    assert log["message_id"] == got.headers["webhook-id"]
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 1, 200)
    assert log["attempt_log"][0]["status_code"] == 200
    assert log["attempt_log"][0]["response_body"] == '{"ok": true}'
    assert log["payload"] == payload

    # The secret is never shown again: not in the webhook, the list, the log or the pages.
    for text in (
        api.get(f"{API}/webhooks/{hook['id']}").text,
        api.get(f"{API}/webhooks").text,
        api.get(f"{API}/webhooks/{hook['id']}/deliveries").text,
        api.get("/webhooks").text,
        api.get(f"/webhooks/{hook['id']}").text,
        login_as(world.operator).get(f"{API}/audit").text,
    ):
        assert secret not in text and secret.removeprefix("whsec_") not in text
    assert "secret" not in api.get(f"{API}/webhooks/{hook['id']}").json()


def test_a_failing_receiver_is_retried_with_growing_backoff_and_logged(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app, receiver: Receiver
) -> None:
    api = login_as(world.client_a)
    hook = create(api, receiver.url, ["snapshot.ready"])
    receiver.statuses = [500]
    snapshot_ready(db, world)

    [first] = deliveries_of(api, hook["id"])
    assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1, 500)
    at = dt.datetime.fromisoformat(first["attempt_log"][0]["at"])
    retry_at = dt.datetime.fromisoformat(first["next_attempt_at"])
    assert retry_at - at == dt.timedelta(seconds=RETRY_DELAYS[0])
    assert "500" in first["last_error"]

    # Nothing is sent before the retry is due; once it is, the sweep sends it again.
    tasks.sweep(app.state.jobs)
    assert len(receiver.received) == 1
    time_passes(db, first["id"])
    tasks.sweep(app.state.jobs)

    [done] = deliveries_of(api, hook["id"])
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", 2, 200)
    assert [(a["number"], a["status_code"]) for a in done["attempt_log"]] == [(1, 500), (2, 200)]
    assert done["next_attempt_at"] is None
    # Both attempts carried the same webhook-id, each signed anew.
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {done["message_id"]} and len(receiver.received) == 2
    for got in receiver.received:
        Webhook(hook["secret"]).verify(got.body, got.headers)


def test_a_delivery_that_always_fails_ends_failed_and_can_be_redelivered(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app, receiver: Receiver, settings
) -> None:
    api = login_as(world.client_a)
    hook = create(api, receiver.url, ["snapshot.ready"])
    attempts = settings.webhooks_max_attempts
    receiver.statuses = [503] * attempts
    snapshot_ready(db, world)
    [delivery_id] = [d["id"] for d in deliveries_of(api, hook["id"])]

    for _ in range(attempts - 1):
        time_passes(db, delivery_id)
        tasks.sweep(app.state.jobs)

    [failed] = deliveries_of(api, hook["id"])
    assert (failed["status"], failed["attempts"]) == ("failed", attempts)
    assert failed["next_attempt_at"] is None
    assert [a["status_code"] for a in failed["attempt_log"]] == [503] * attempts
    # The waits scheduled after each failure grow: 10 s, 1 min, 5 min, 30 min, 2 h, ...
    db.expire_all()
    rows = db.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number)
    ).all()
    assert len(rows) == attempts
    scheduled = [RETRY_DELAYS[min(n, len(RETRY_DELAYS)) - 1] for n in range(1, attempts)]
    assert scheduled == sorted(scheduled) and scheduled[0] == 10 and scheduled[1] == 60
    tasks.sweep(app.state.jobs)  # a failed delivery is not retried by itself
    assert len(receiver.received) == attempts

    # Redeliver: one more attempt, at once, with the same webhook-id.
    r = api.post(f"{API}/webhooks/deliveries/{delivery_id}/redeliver")
    assert r.status_code == 202, r.text
    assert r.json()["job_id"] is not None
    [again] = deliveries_of(api, hook["id"])
    assert (again["status"], again["attempts"]) == ("delivered", attempts + 1)
    assert receiver.received[-1].headers["webhook-id"] == again["message_id"]
    kinds = [e.kind for e in events.recent(session=db, kind="webhooks.redelivered")]
    assert kinds == ["webhooks.redelivered"]


def test_retries_wait_longer_each_time(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app, receiver: Receiver
) -> None:
    api = login_as(world.client_a)
    hook = create(api, receiver.url, ["snapshot.ready"])
    receiver.statuses = [500] * 5
    snapshot_ready(db, world)
    [delivery_id] = [d["id"] for d in deliveries_of(api, hook["id"])]
    waits = []
    for _ in range(4):
        [d] = deliveries_of(api, hook["id"])
        last = dt.datetime.fromisoformat(d["attempt_log"][-1]["at"])
        waits.append((dt.datetime.fromisoformat(d["next_attempt_at"]) - last).total_seconds())
        time_passes(db, delivery_id)
        tasks.sweep(app.state.jobs)
    assert waits == [10, 60, 300, 1800]


def _accepted_problem_set(login_as, world: World, db: Session, app) -> int:  # type: ignore[no-untyped-def]
    """Take a problem set of project A through the real workbench use cases to accepted."""
    author, reviewer = login_as(world.expert_a), login_as(world.reviewer_a)
    endpoint = scripted_target(db, app.state.hub, world.project_a, answers={"Q?": "A?"})
    db.commit()
    r = author.post(f"{API}/projects/{world.project_a.id}/problem-sets", json={"title": "Runway"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    step = author.post(f"{API}/problem-sets/{pid}/steps", json={"prompt": "Q?"}).json()
    # An ideal answer counts once the step's final revision was run (workbench.progress.RULE).
    rev = author.get(f"{API}/steps/{step['id']}/revisions").json()[-1]
    r = author.post(f"{API}/revisions/{rev['id']}/runs", json={"endpoint_id": endpoint.id})
    assert r.status_code == 201, r.text
    assert (
        author.put(f"{API}/steps/{step['id']}/ideal-answer", json={"text": "A."}).status_code == 200
    )
    assert author.post(f"{API}/problem-sets/{pid}/transitions/submit", json={}).status_code == 200
    r = reviewer.post(f"{API}/problem-sets/{pid}/transitions/accept", json={})
    assert r.status_code == 200, r.text
    return pid  # type: ignore[no-any-return]


def _delivery_count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count(WebhookDelivery.id))) or 0


def test_events_make_one_delivery_per_matching_subscription(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app, receiver: Receiver
) -> None:
    a, b = login_as(world.client_a), login_as(world.client_b)
    accepted_only = create(a, receiver.url, ["problem_set.accepted"])
    both = create(a, receiver.url + "?both", ["problem_set.accepted", "job.failed"])
    jobs_only = create(a, receiver.url + "?jobs", ["job.failed"])
    snapshots = create(a, receiver.url + "?snapshots", ["snapshot.ready"])
    paused = create(a, receiver.url + "?paused", ["problem_set.accepted", "job.failed"])
    assert a.patch(f"{API}/webhooks/{paused['id']}", json={"active": False}).status_code == 200
    other_org = create(b, receiver.url + "?b", ["problem_set.accepted", "job.failed"])

    # 1. A problem set accepted through the workbench (its start and submit make nothing).
    pid = _accepted_problem_set(login_as, world, db, app)
    assert [len(deliveries_of(a, h["id"])) for h in (accepted_only, both, jobs_only)] == [1, 1, 0]
    payload = deliveries_of(a, both["id"])[0]["payload"]
    assert payload["type"] == "problem_set.accepted"
    assert payload["data"]["problem_set_id"] == pid
    assert payload["data"]["project_id"] == world.project_a.id
    assert payload["data"]["url"] == f"http://testserver/api/v1/problem-sets/{pid}"
    assert str(world.expert_a.email) not in json.dumps(payload)
    assert world.expert_a.name not in json.dumps(payload)
    received = [json.loads(r.body)["type"] for r in receiver.received]
    assert received == ["problem_set.accepted", "problem_set.accepted"]

    # 2. A job of A's that fails for real (its handler refuses).
    def refuse(_ctx: object) -> None:
        raise ValidationFailed("The export found no accepted problem sets.")

    app.state.jobs.handlers["test.export"] = refuse
    job = records.submit(
        session=db,
        queue=app.state.jobs,
        kind="test.export",
        payload={},
        actor=world.client_a,
        organisation_id=world.org_a.id,
        project_id=world.project_a.id,
    )
    db.commit()
    db.refresh(job)
    assert job.status.value == "failed"
    [job_event] = [d for d in deliveries_of(a, both["id"]) if d["event_type"] == "job.failed"]
    assert job_event["payload"]["data"] == {
        "job_id": job.id,
        "job_kind": "test.export",
        "project_id": world.project_a.id,
        "error": "The export found no accepted problem sets.",
        "url": f"http://testserver/api/v1/jobs/{job.id}",
    }
    assert len(deliveries_of(a, jobs_only["id"])) == 1

    # 3. A snapshot became ready.
    snapshot_ready(db, world)
    assert len(deliveries_of(a, snapshots["id"])) == 1

    # Paused and other organisations' webhooks got nothing; each delivery went out once.
    assert deliveries_of(a, paused["id"]) == []
    assert deliveries_of(b, other_org["id"]) == []
    count = _delivery_count(db)
    assert count == 5 == len(receiver.received)

    # A re-scan (the minute sweep, or a scan from the start of the log) adds nothing.
    tasks.sweep(app.state.jobs)
    with transaction(app.state.session_factory) as session:
        assert outbox.scan(session=session, base_url="http://testserver", max_attempts=8) == []
    with transaction(app.state.session_factory) as session:
        session.execute(update(outbox.WebhookCursor).values(last_audit_id=0))
        assert outbox.scan(session=session, base_url="http://testserver", max_attempts=8) == []
    assert _delivery_count(db) == count and len(receiver.received) == count


def test_a_webhook_gets_only_events_after_it_was_created(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, receiver: Receiver
) -> None:
    snapshot_ready(db, world, snapshot_id=1)
    api = login_as(world.client_a)
    hook = create(api, receiver.url, ["snapshot.ready"])
    snapshot_ready(db, world, snapshot_id=2)
    [only] = deliveries_of(api, hook["id"])
    assert only["payload"]["data"]["snapshot_id"] == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://10.0.0.5/",
        "http://[::1]:8080/hook",
        "http://192.168.1.20/hook",
        "ftp://hooks.example.com/",
        "http://user:pw@127.0.0.1/hook",
    ],
)
def test_internal_addresses_are_refused(login_as, world: World, url: str) -> None:  # type: ignore[no-untyped-def]
    r = login_as(world.client_a).post(
        f"{API}/webhooks", json={"url": url, "events": ["job.failed"]}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unsafe_endpoint"


def test_loopback_is_refused_unless_allowed(  # type: ignore[no-untyped-def]
    login_as, world: World, db_root, session_factory
) -> None:
    strict = make_settings(database_url(db_root), db_root, private_endpoint_networks=[])
    app = create_app(strict, session_factory=session_factory)
    with TestClient(app, base_url="http://testserver") as raw:
        api = ApiClient(raw, world.client_a)
        for url in ("http://localhost:9/hook", "http://127.0.0.1:9/hook"):
            r = api.post(f"{API}/webhooks", json={"url": url, "events": ["job.failed"]})
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "unsafe_endpoint"
            assert "private, loopback" in r.json()["error"]["message"]
    # Allowed by the test settings (127.0.0.1/32), the same URL is accepted.
    assert create(login_as(world.client_a), "http://127.0.0.1:9/hook", ["job.failed"])


def test_who_manages_webhooks(login_as, world: World, db: Session, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    client = login_as(world.client_a)
    for outsider in (world.expert_a, world.reviewer_a):
        api = login_as(outsider)
        assert api.get(f"{API}/webhooks").status_code == 404
        r = api.post(f"{API}/webhooks", json={"url": receiver.url, "events": ["job.failed"]})
        assert r.status_code == 404
        assert api.get("/webhooks").status_code == 404
    # A client cannot register for another organisation.
    r = client.post(
        f"{API}/webhooks",
        json={"url": receiver.url, "events": ["job.failed"], "organisation_id": world.org_b.id},
    )
    assert r.status_code == 404
    # Operators say for whom; they see and change every organisation's webhooks.
    operator = login_as(world.operator)
    r = operator.post(f"{API}/webhooks", json={"url": receiver.url, "events": ["job.failed"]})
    assert r.status_code == 422 and "organisation_id" in r.text
    for_b = create(operator, receiver.url, ["job.failed"], organisation_id=world.org_b.id)
    assert for_b["organisation_id"] == world.org_b.id
    mine = create(client, receiver.url, ["job.failed"])
    assert [h["id"] for h in client.get(f"{API}/webhooks").json()["items"]] == [mine["id"]]
    listed = operator.get(f"{API}/webhooks", params={"organisation_id": world.org_b.id}).json()
    assert [h["id"] for h in listed["items"]] == [for_b["id"]]
    assert operator.get(f"{API}/webhooks/{mine['id']}").status_code == 200
    # Unknown event types are refused.
    r = client.post(f"{API}/webhooks", json={"url": receiver.url, "events": ["user.created"]})
    assert r.status_code == 422


def test_change_and_remove_a_webhook(
    login_as, world: World, db: Session, receiver: Receiver
) -> None:  # type: ignore[no-untyped-def]
    api = login_as(world.client_a)
    hook = create(api, receiver.url, ["job.failed"])
    url = f"{API}/webhooks/{hook['id']}"
    r = api.patch(
        url,
        json={
            "version": hook["version"],
            "events": ["snapshot.ready", "job.failed"],
            "url": receiver.url + "?v=2",
            "description": "Pipeline",
        },
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["events"] == ["snapshot.ready", "job.failed"]
    assert (changed["url"], changed["version"]) == (receiver.url + "?v=2", hook["version"] + 1)
    # A stale version is a conflict; an unsafe URL is refused on change too.
    r = api.patch(url, json={"version": hook["version"], "active": False})
    assert r.status_code == 409 and r.json()["error"]["details"]["current_version"] == 2
    r = api.patch(url, json={"url": "http://169.254.169.254/"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsafe_endpoint"
    assert api.get(url).json()["url"] == receiver.url + "?v=2"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    kinds = [e.kind for e in events.recent(session=db) if e.kind.startswith("webhooks.")]
    assert kinds == ["webhooks.deleted", "webhooks.updated", "webhooks.created"]
    created = events.recent(session=db, kind="webhooks.created")[0]
    assert created.subject_id == str(hook["id"]) and created.organisation_id == world.org_a.id


def test_pages_register_show_the_secret_once_and_keep_the_log(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, receiver: Receiver
) -> None:
    api = login_as(world.client_a)
    page = api.get("/webhooks")
    assert page.status_code == 200 and "No webhooks yet" in page.text
    assert 'href="/webhooks"' in page.text  # in the navigation
    r = api.post(
        "/webhooks",
        data={
            "csrf_token": api.csrf,
            "url": receiver.url,
            "events": ["snapshot.ready", "job.failed"],
            "description": "Pipeline",
        },
    )
    assert r.status_code == 200, r.text
    secret = r.text.split('data-testid="secret"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert secret.startswith("whsec_")
    [hook] = api.get(f"{API}/webhooks").json()["items"]
    assert hook["events"] == ["snapshot.ready", "job.failed"]
    assert secret not in api.get("/webhooks").text

    receiver.statuses = [502]
    snapshot_ready(db, world)
    Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)
    detail = api.get(f"/webhooks/{hook['id']}")
    assert detail.status_code == 200
    assert "snapshot.ready" in detail.text and "pending" in detail.text and "502" in detail.text
    assert "Redeliver" in detail.text and secret not in detail.text
    [d] = deliveries_of(api, hook["id"])
    r = api.post(
        f"/webhooks/deliveries/{d['id']}/redeliver",
        data={"csrf_token": api.csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/webhooks/{hook['id']}"
    [d] = deliveries_of(api, hook["id"])
    assert (d["status"], d["attempts"]) == ("delivered", 2)

    # A refused URL shows the form again with the reason.
    r = api.post(
        "/webhooks",
        data={"csrf_token": api.csrf, "url": "http://169.254.169.254/", "events": ["job.failed"]},
    )
    assert r.status_code == 422 and "not allowed" in r.text

    # Pause, resume, delete.
    r = api.post(f"/webhooks/{hook['id']}/active", data={"csrf_token": api.csrf, "active": "false"})
    assert api.get(f"{API}/webhooks/{hook['id']}").json()["active"] is False
    r = api.post(f"/webhooks/{hook['id']}/delete", data={"csrf_token": api.csrf})
    assert api.get(f"{API}/webhooks/{hook['id']}").status_code == 404

    # Operators register for an organisation they choose.
    operator = login_as(world.operator)
    assert "Choose a client organisation" in operator.get("/webhooks").text
