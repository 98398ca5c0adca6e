"""Payout runs through the job queue: the job pays the approved weeks and names its run, the same
key gives the same job and run, a crash is redone without paying twice, only operators ask."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.jobs.models import Job, JobStatus
from expertloop.jobs.runner import JobContext
from expertloop.payments import postings
from expertloop.payments import tasks as payment_tasks
from expertloop.payments.models import LedgerTransaction, Payout, PayoutRun
from tests.api.test_payments import WEEK, _setup_week
from tests.factories import World

BODY = {"period_start": WEEK, "period_end": "2026-11-22"}
OWED = 59_375  # 11,400 s at USD 187.50/h (see test_payments)


def _approved_week(login_as, world: World, db: Session):  # type: ignore[no-untyped-def]
    op, expert = _setup_week(login_as, world, db)
    sheet = expert.post("/api/v1/timesheets", json={"week_start": WEEK})
    assert sheet.status_code == 201, sheet.text
    assert op.post(f"/api/v1/timesheets/{sheet.json()['id']}/approve").status_code == 200
    return op


def _counts(db: Session) -> tuple[int, int, int]:
    db.expire_all()
    return (
        db.scalar(select(func.count(PayoutRun.id))) or 0,
        db.scalar(select(func.count(Payout.id))) or 0,
        db.scalar(select(func.count(LedgerTransaction.id))) or 0,
    )


def _submit(op, key: str, body: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    return op.post("/api/v1/payout-runs/jobs", json=body or BODY, headers={"Idempotency-Key": key})


def test_the_job_pays_the_approved_weeks_and_names_its_run(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session
) -> None:
    op = _approved_week(login_as, world, db)
    before = _counts(db)
    r = _submit(op, "nov-week-3")
    assert r.status_code == 202, r.text
    assert r.json()["kind"] == "payments.payout_run"
    job = op.get(f"/api/v1/jobs/{r.json()['id']}").json()
    assert job["status"] == "done", job
    result = job["result"]
    run_id = result["run_id"]
    assert result["created"] is True and result["payouts"] == 1
    assert result["totals_minor"] == {"USD": OWED} and result["totals"] == "USD 593.75"
    assert result["run_url"] == f"/payroll/payout-runs/{run_id}"
    assert (job["progress_done"], job["progress_total"]) == (1, 1)
    run = op.get(f"/api/v1/payout-runs/{run_id}").json()
    paid = {"user_id": world.expert_a.id, "currency": "USD", "amount_minor": OWED}
    assert run["payouts"] == [paid]
    assert _counts(db) == (before[0] + 1, before[1] + 1, before[2] + 1)
    # The job's page links to the run's page.
    page = op.get(f"/jobs/{job['id']}").text
    assert f'href="/payroll/payout-runs/{run_id}"' in page

    # The same key again: the same job, the same run, nobody paid twice.
    again = _submit(op, "nov-week-3")
    assert again.status_code == 202 and again.json()["id"] == job["id"]
    assert again.json()["result"]["run_id"] == run_id
    assert _counts(db) == (before[0] + 1, before[1] + 1, before[2] + 1)
    # The same key for another period is refused; a key is required.
    clash = _submit(op, "nov-week-3", {**BODY, "period_end": "2026-11-23"})
    assert clash.status_code == 409 and "another period" in clash.json()["error"]["message"]
    assert op.post("/api/v1/payout-runs/jobs", json=BODY).status_code == 422
    # A new key over the same period: a new run that pays nothing more.
    second = op.get(f"/api/v1/jobs/{_submit(op, 'nov-week-3b').json()['id']}").json()
    assert second["status"] == "done" and second["result"]["payouts"] == 0
    assert second["result"]["run_id"] != run_id


def test_a_key_the_synchronous_route_used_names_the_same_run(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session
) -> None:
    op = _approved_week(login_as, world, db)
    made = op.post("/api/v1/payout-runs", json=BODY, headers={"Idempotency-Key": "both"})
    assert made.status_code == 201
    job = op.get(f"/api/v1/jobs/{_submit(op, 'both').json()['id']}").json()
    assert job["status"] == "done"
    assert (job["result"]["run_id"], job["result"]["created"]) == (made.json()["id"], False)
    assert _counts(db)[:2] == (1, 1)


def test_a_bad_period_is_refused_before_anything_is_queued(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session
) -> None:
    op = login_as(world.operator)
    backwards = _submit(op, "k", {"period_start": "2026-11-22", "period_end": "2026-11-16"})
    assert backwards.status_code == 422 and "ends before it starts" in backwards.text
    future = _submit(op, "k", {"period_start": WEEK, "period_end": "2999-01-01"})
    assert future.status_code == 422 and "future" in future.text
    assert db.scalar(select(func.count(Job.id)).where(Job.kind == payment_tasks.KIND)) == 0


def test_only_operators_run_payout_jobs(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session
) -> None:
    for who in (world.expert_a, world.reviewer_a, world.client_a):
        assert _submit(login_as(who), "x").status_code == 403, who.role
        page = login_as(who).post(
            "/payroll/payout-runs",
            data={**BODY, "idempotency_key": "x", "action": "run"},
            follow_redirects=False,
        )
        assert page.status_code == 403
    assert db.scalar(select(func.count(Job.id)).where(Job.kind == payment_tasks.KIND)) == 0


def test_the_payroll_page_submits_the_job_and_follows_it(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session
) -> None:
    op = _approved_week(login_as, world, db)
    form = {**BODY, "idempotency_key": "page-key"}
    preview = op.post("/payroll/payout-runs", data={**form, "action": "preview"})
    assert preview.status_code == 200 and 'data-testid="run-preview"' in preview.text
    assert db.scalar(select(func.count(Job.id)).where(Job.kind == payment_tasks.KIND)) == 0

    first = op.post("/payroll/payout-runs", data={**form, "action": "run"}, follow_redirects=False)
    second = op.post("/payroll/payout-runs", data={**form, "action": "run"}, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    job_url = first.headers["location"]
    assert job_url.startswith("/jobs/")
    progress = op.get(f"{job_url}/progress").text
    assert 'data-status="done"' in progress
    run_id = db.scalar(select(PayoutRun.id).where(PayoutRun.idempotency_key == "page-key"))
    assert f'href="/payroll/payout-runs/{run_id}"' in progress
    assert _counts(db)[:2] == (1, 1)


def test_a_crash_mid_run_is_redone_and_pays_once(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = _approved_week(login_as, world, db)
    before = _counts(db)
    real_post = postings.post_payout
    calls = {"n": 0}

    def post_then_die(**kwargs: Any) -> LedgerTransaction:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("the database went away mid-run")
        return real_post(**kwargs)

    monkeypatch.setattr(postings, "post_payout", post_then_die)
    job_id = _submit(op, "crashy").json()["id"]
    db.expire_all()
    job = db.get(Job, job_id)
    assert job is not None and job.status == JobStatus.done and job.attempts == 2, job.error
    # The first attempt's run was rolled back whole; the second made it once.
    assert _counts(db) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_a_redo_after_the_run_committed_reuses_it(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app: FastAPI, session_factory
) -> None:
    op = _approved_week(login_as, world, db)
    job_id = _submit(op, "redo").json()["id"]
    after = _counts(db)
    db.expire_all()
    job = db.get(Job, job_id)
    assert job is not None and job.result is not None
    # The worker died after the run's commit, before the job was marked done: a redo.
    ctx = JobContext(
        job_id=job.id,
        kind=job.kind,
        payload=dict(job.payload),
        attempt=job.attempts,
        created_by_id=job.created_by_id,
        organisation_id=job.organisation_id,
        project_id=job.project_id,
        session_factory=session_factory,
        services={"hub": app.state.hub},
    )
    redo = payment_tasks.run_payouts(ctx)
    assert (redo["run_id"], redo["created"], redo["payouts"]) == (job.result["run_id"], False, 1)
    assert _counts(db) == after
