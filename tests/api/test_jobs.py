"""Jobs API and pages: who sees which job, progress, cancelling."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from expertloop.jobs.models import Job, JobStatus
from tests.factories import World


def _job(db: Session, **fields: Any) -> Job:
    job = Job(kind=fields.pop("kind", "test.export"), payload={}, **fields)
    db.add(job)
    db.commit()
    return job


def test_each_user_sees_only_the_jobs_they_may(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    a_client = _job(db, created_by_id=world.client_a.id, organisation_id=world.org_a.id)
    a_org = _job(db, created_by_id=world.operator.id, organisation_id=world.org_a.id)
    b_job = _job(db, created_by_id=world.client_b.id, organisation_id=world.org_b.id)
    mine = _job(db, created_by_id=world.expert_a.id, organisation_id=None)

    def ids(user) -> list[int]:  # type: ignore[no-untyped-def]
        body = login_as(user).get("/api/v1/jobs").json()
        assert body["total"] == len(body["items"])
        return [j["id"] for j in body["items"]]

    assert ids(world.client_a) == [a_org.id, a_client.id]  # newest first
    assert ids(world.client_b) == [b_job.id]
    assert ids(world.expert_a) == [mine.id]
    assert set(ids(world.operator)) >= {a_client.id, a_org.id, b_job.id, mine.id}
    assert login_as(world.expert_a).get(f"/api/v1/jobs/{a_client.id}").status_code == 404
    assert login_as(world.client_a).get(f"/api/v1/jobs/{b_job.id}").status_code == 404
    filtered = login_as(world.operator).get(
        "/api/v1/jobs", params={"status": "queued", "kind": "test.export", "limit": 2}
    )
    assert filtered.status_code == 200 and len(filtered.json()["items"]) == 2


def test_a_job_shows_progress_and_result(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    job = _job(
        db,
        created_by_id=world.client_a.id,
        organisation_id=world.org_a.id,
        status=JobStatus.running,
        progress_done=40,
        progress_total=100,
        progress_note="problem set 40",
        title="Snapshot 1 of A",
    )
    api = login_as(world.client_a)
    body = api.get(f"/api/v1/jobs/{job.id}").json()
    assert (body["status"], body["progress_done"], body["progress_total"]) == ("running", 40, 100)
    page = api.get(f"/jobs/{job.id}")
    assert page.status_code == 200
    assert "Snapshot 1 of A" in page.text and 'value="40" max="100"' in page.text
    assert 'hx-trigger="every 1s"' in page.text  # keeps polling while running
    job.status = JobStatus.done
    job.result = {"snapshot_url": "/snapshots/1", "rows": 12}
    db.commit()
    partial = api.get(f"/jobs/{job.id}/progress")
    assert "hx-trigger" not in partial.text  # stops polling once finished
    assert '<a href="/snapshots/1">' in partial.text and "12" in partial.text
    listing = api.get("/jobs")
    assert listing.status_code == 200 and f"/jobs/{job.id}" in listing.text


def test_failed_jobs_show_their_reason(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    job = _job(
        db,
        created_by_id=world.client_a.id,
        organisation_id=world.org_a.id,
        status=JobStatus.failed,
        error="The project has no accepted problem sets yet.",
    )
    page = login_as(world.client_a).get(f"/jobs/{job.id}")
    assert 'role="alert"' in page.text and "no accepted problem sets" in page.text


def test_cancel_a_queued_job_and_not_a_finished_one(login_as, world: World, db: Session) -> None:  # type: ignore[no-untyped-def]
    queued = _job(db, created_by_id=world.client_a.id, organisation_id=world.org_a.id)
    done = _job(
        db, created_by_id=world.client_a.id, organisation_id=world.org_a.id, status=JobStatus.done
    )
    api = login_as(world.client_a)
    response = api.post(f"/api/v1/jobs/{queued.id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/jobs/{done.id}/cancel")
    assert again.status_code == 409 and "already ended" in again.json()["error"]["message"]
    assert login_as(world.client_b).post(f"/api/v1/jobs/{done.id}/cancel").status_code == 404


def test_the_jobs_page_has_an_empty_state(login_as, world: World) -> None:  # type: ignore[no-untyped-def]
    page = login_as(world.client_b).get("/jobs")
    assert page.status_code == 200 and "No jobs yet" in page.text
