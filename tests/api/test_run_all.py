"""Run all steps of a problem set as a background job: one run per (step, target model), chained
steps after the steps they carry, a redo adds nothing, failing models end as stored failed runs,
and only the author may ask."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.db import make_engine, make_session_factory, transaction, upgrade
from expertloop.jobs.models import Job, JobStatus
from expertloop.jobs.runner import JobContext
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.projects import targets
from expertloop.web.app import create_app
from expertloop.workbench import access as wb_access
from expertloop.workbench import assess, batch_runs
from expertloop.workbench.models import ProblemSet, Status, Step, StepRevision, StepRun
from tests.conftest import ApiClient, make_settings
from tests.factories import World, make_problem_set, make_step, make_world, scripted_target

CONTEXT = "Cash in bank: 700k. Monthly burn: 50k."
IDEAL_1 = "Runway is 14 months."
ANSWERS = {"runway": "About 14 months.", "board": "Board note: 14 months of runway."}


def _steps(db: Session, world: World, *, ideal: bool = True) -> tuple[ProblemSet, list[Step]]:
    """Step 1 (with an ideal answer), step 2 chained after it, step 3 on its own."""
    ps = make_problem_set(db, world.project_a, world.expert_a, title="Runway", context=CONTEXT)
    one = make_step(db, ps, world.expert_a, prompt="What is the runway?", title="Runway")
    two = make_step(db, ps, world.expert_a, prompt="Write the board note.", chain=True)
    three = make_step(db, ps, world.expert_a, prompt="List the risks.", title="Risks")
    make_step(db, ps, world.expert_a, prompt="", title="No prompt yet")  # nothing to run
    if ideal:
        loaded = wb_access.problem_set(session=db, actor=world.expert_a, problem_set_id=ps.id)
        assess.save_ideal(session=db, loaded=loaded, step=one, text=IDEAL_1, version=None)
    db.commit()
    return ps, [one, two, three]


def _targets(db: Session, app: FastAPI, world: World, n: int = 2) -> list[ModelEndpoint]:
    made = [scripted_target(db, app.state.hub, world.project_a, answers=ANSWERS) for _ in range(n)]
    db.commit()
    return made


def _runs(db: Session, ps: ProblemSet) -> list[tuple[int, int, int, ModelRun]]:
    """(step run id, step id, endpoint id, model run) of every run of the problem set."""
    db.expire_all()
    out = []
    for step_run in db.scalars(select(StepRun).order_by(StepRun.id)):
        run = db.get(ModelRun, step_run.model_run_id)
        assert run is not None
        revision_step = _step_of_revision(db, step_run.revision_id)
        if revision_step.problem_set_id == ps.id:
            out.append((step_run.id, revision_step.id, step_run.endpoint_id, run))
    return out


def _step_of_revision(db: Session, revision_id: int) -> Step:
    revision = db.get(StepRevision, revision_id)
    assert revision is not None
    step = db.get(Step, revision.step_id)
    assert step is not None
    return step


def _job(db: Session, job_id: int) -> Job:
    db.expire_all()
    job = db.get(Job, job_id)
    assert job is not None
    return job


def test_run_all_runs_every_step_on_every_target_in_chain_order(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app: FastAPI
) -> None:
    first, second = _targets(db, app, world)
    ps, (one, two, three) = _steps(db, world)
    author = login_as(world.expert_a)

    r = author.post(f"/api/v1/problem-sets/{ps.id}/run-all")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["kind"] == "workbench.run_all" and body["progress_total"] == 6

    job = author.get(f"/api/v1/jobs/{body['id']}").json()
    assert job["status"] == "done", job
    assert (job["progress_done"], job["progress_total"]) == (6, 6)
    result = job["result"]
    assert (result["runs"], result["ok"], result["failed"], result["skipped"]) == (6, 6, 0, 0)
    assert result["problem_set_url"] == f"/problem-sets/{ps.id}"

    runs = _runs(db, ps)
    pairs = sorted((step_id, endpoint_id) for _sr, step_id, endpoint_id, _run in runs)
    assert pairs == sorted((s.id, e.id) for s in (one, two, three) for e in (first, second))
    assert all(run.status == "ok" and run.finished_at is not None for *_x, run in runs)
    # The chained step ran after the steps before it (its wave comes last) …
    chained_ids = [sr for sr, step_id, _e, _r in runs if step_id == two.id]
    other_ids = [sr for sr, step_id, _e, _r in runs if step_id != two.id]
    assert min(chained_ids) > max(other_ids)
    # … with the conversation a single run builds: step 1's prompt and its ideal answer first.
    chained = next(run for _sr, step_id, _e, run in runs if step_id == two.id)
    assert chained.messages == [
        {"role": "user", "content": f"Context:\n{CONTEXT}\n\nWhat is the runway?"},
        {"role": "assistant", "content": IDEAL_1},
        {"role": "user", "content": "Write the board note."},
    ]
    assert chained.answer == ANSWERS["board"]
    step_run_rows = {sr for sr, *_x in runs}
    assert set(result["pairs_run"].values()) == step_run_rows

    # Only the chosen target models, when some are named.
    only = author.post(
        f"/api/v1/problem-sets/{ps.id}/run-all", json={"endpoint_ids": [second.id]}
    ).json()
    assert only["progress_total"] == 3
    assert _job(db, only["id"]).status == JobStatus.done
    assert len(_runs(db, ps)) == 9
    assert (
        author.post(
            f"/api/v1/problem-sets/{ps.id}/run-all", json={"endpoint_ids": [999_999]}
        ).status_code
        == 422
    )


def test_a_second_delivery_adds_no_runs(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app: FastAPI, session_factory
) -> None:
    _targets(db, app, world)
    ps, _steps_made = _steps(db, world)
    author = login_as(world.expert_a)
    job_id = author.post(f"/api/v1/problem-sets/{ps.id}/run-all").json()["id"]
    before = [(sr, run.id, run.answer) for sr, _s, _e, run in _runs(db, ps)]
    assert len(before) == 6

    # The queue delivers the message again: the job has ended, nothing runs.
    app.state.jobs.enqueue(job_id)
    assert app.state.jobs.last_outcome.status == "skipped"
    # The handler itself runs again on the same job (a redo after a lost acknowledgement).
    job = _job(db, job_id)
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
    again = batch_runs.run_all(ctx)
    assert (again["runs"], again["ok"]) == (6, 6)
    assert [(sr, run.id, run.answer) for sr, _s, _e, run in _runs(db, ps)] == before


def test_a_crash_mid_job_is_redone_without_duplicates(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    _targets(db, app, world)
    ps, _steps_made = _steps(db, world)
    real_finish = batch_runs.llm_runs.finish_run
    calls = {"n": 0}

    def finish_then_die(**kwargs: Any) -> ModelRun:
        calls["n"] += 1
        if calls["n"] == 3:  # the worker dies after two answers were stored
            raise ConnectionError("worker lost its database connection")
        return real_finish(**kwargs)

    monkeypatch.setattr(batch_runs.llm_runs, "finish_run", finish_then_die)
    author = login_as(world.expert_a)
    job_id = author.post(f"/api/v1/problem-sets/{ps.id}/run-all").json()["id"]

    job = _job(db, job_id)
    assert job.status == JobStatus.done and job.attempts == 2, job.error
    runs = _runs(db, ps)
    assert len(runs) == 6
    assert len({(s, e) for _sr, s, e, _r in runs}) == 6  # one run per pair
    assert all(run.status == "ok" for *_x, run in runs)  # the dropped calls were made again
    assert job.result is not None and job.result["runs"] == 6


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on leaving: nothing listens there


def test_a_failing_model_ends_as_stored_failed_runs(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app: FastAPI
) -> None:
    (good,) = _targets(db, app, world, n=1)
    hub = app.state.hub
    dead = endpoints_uc.add_endpoint(
        session=db,
        actor=world.operator,
        box=hub.box,
        policy=hub.runtime.policy,
        name="Unreachable model",
        provider="openai_compatible",
        base_url=f"http://127.0.0.1:{_closed_port()}/v1",
        model_id="gone",
    )
    targets.set_targets(
        session=db, actor=world.operator, project=world.project_a, endpoint_ids=[good.id, dead.id]
    )
    ps, _steps_made = _steps(db, world)
    author = login_as(world.expert_a)
    job = author.get(
        f"/api/v1/jobs/{author.post(f'/api/v1/problem-sets/{ps.id}/run-all').json()['id']}"
    ).json()
    assert job["status"] == "done", job
    assert (job["result"]["ok"], job["result"]["failed"]) == (3, 3)
    failed = [run for _sr, _s, e, run in _runs(db, ps) if e == dead.id]
    assert len(failed) == 3
    assert all(run.status == "failed" and run.error_reason for run in failed)


def test_a_chained_step_without_earlier_answers_is_skipped_with_the_reason(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app: FastAPI
) -> None:
    _targets(db, app, world, n=1)
    ps, (one, two, three) = _steps(db, world, ideal=False)
    author = login_as(world.expert_a)
    job = author.get(
        f"/api/v1/jobs/{author.post(f'/api/v1/problem-sets/{ps.id}/run-all').json()['id']}"
    ).json()
    assert job["status"] == "done"
    result = job["result"]
    assert (result["runs"], result["skipped"]) == (2, 1)
    assert "Step 1 has no passing answer or ideal answer yet" in result["skipped_why"]
    assert {s for _sr, s, _e, _r in _runs(db, ps)} == {one.id, three.id}
    assert two.id not in {s for _sr, s, _e, _r in _runs(db, ps)}


def test_only_the_author_runs_all_steps(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app: FastAPI
) -> None:
    _targets(db, app, world, n=1)
    ps, _steps_made = _steps(db, world)
    url = f"/api/v1/problem-sets/{ps.id}/run-all"
    # Another expert (of another project) does not see the problem set at all.
    assert login_as(world.expert_b).post(url).status_code == 404
    # Those who see it but do not author it are refused.
    for who in (world.reviewer_a, world.client_a):
        assert login_as(who).post(url).status_code == 403
    assert db.scalar(select(Job.id).where(Job.kind == batch_runs.KIND)) is None
    assert _runs(db, ps) == []


def test_access_is_checked_again_when_the_job_runs(  # type: ignore[no-untyped-def]
    world: World, db: Session, app: FastAPI, session_factory
) -> None:
    _targets(db, app, world, n=1)
    ps, _steps_made = _steps(db, world)
    # The author asked, then the problem set was submitted before a worker took the job.
    job = Job(
        kind=batch_runs.KIND,
        payload={"problem_set_id": ps.id, "endpoint_ids": None, "actor_id": world.expert_a.id},
        created_by_id=world.expert_a.id,
        project_id=world.project_a.id,
    )
    db.add(job)
    ps.status = Status.submitted
    db.commit()
    app.state.jobs.enqueue(job.id)
    failed = _job(db, job.id)
    assert failed.status == JobStatus.failed
    assert "cannot change it now" in failed.error
    assert _runs(db, ps) == []


def test_the_editor_button_follows_the_job(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session, app: FastAPI
) -> None:
    _targets(db, app, world, n=1)
    ps, _steps_made = _steps(db, world)
    author = login_as(world.expert_a)
    page = author.get(f"/problem-sets/{ps.id}").text
    assert 'data-testid="run-all"' in page and "Run all steps" in page
    # Other viewers get no button.
    assert (
        'data-testid="run-all"' not in login_as(world.reviewer_a).get(f"/problem-sets/{ps.id}").text
    )

    # Without JavaScript: a plain form post opens the job's page.
    r = author.post(f"/problem-sets/{ps.id}/run-all", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    job_page = author.get(r.headers["location"]).text
    assert 'data-status="done"' in job_page and f'href="/problem-sets/{ps.id}"' in job_page

    # With htmx: the progress partial in place, which polls until the job ends.
    partial = author.post(f"/problem-sets/{ps.id}/run-all", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert 'id="job-progress"' in partial.text and "<html" not in partial.text
    job_id = db.scalars(select(Job.id).where(Job.kind == batch_runs.KIND).order_by(Job.id)).all()[
        -1
    ]
    assert f'hx-get="/jobs/{job_id}/progress"' in partial.text
    assert 'data-status="done"' in author.get(f"/jobs/{job_id}/progress").text
    assert len(_runs(db, ps)) == 6  # two jobs of three runs each


def test_a_refusal_shows_in_place(  # type: ignore[no-untyped-def]
    login_as, world: World, db: Session
) -> None:
    ps, _steps_made = _steps(db, world)  # no target model on the project
    author = login_as(world.expert_a)
    partial = author.post(f"/problem-sets/{ps.id}/run-all", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert 'data-testid="run-all-error"' in partial.text and "no target models" in partial.text
    plain = author.post(f"/problem-sets/{ps.id}/run-all", follow_redirects=False)
    assert plain.status_code == 422 and "no target models" in plain.text


def test_on_a_database_file_the_job_runs_after_the_request_commits(tmp_path: Path) -> None:
    """Separate connections, as in production (the other tests share one rolled-back one)."""
    settings = make_settings(f"sqlite:///{tmp_path / 'own.sqlite3'}", tmp_path)
    engine = make_engine(settings)
    try:
        upgrade(engine)
        app = create_app(settings)
        with transaction(make_session_factory(engine)) as db:
            world = make_world(db)
            _targets(db, app, world)
            ps, _made = _steps(db, world)
            ps_id = ps.id
        with TestClient(app, base_url="http://testserver") as client:
            author = ApiClient(client, world.expert_a)
            partial = author.post(f"/problem-sets/{ps_id}/run-all", headers={"HX-Request": "true"})
            assert partial.status_code == 200, partial.text
            (job,) = author.get("/api/v1/jobs", params={"kind": batch_runs.KIND}).json()["items"]
            assert job["status"] == "done", job
            assert (job["result"]["runs"], job["result"]["ok"]) == (6, 6)
    finally:
        engine.dispose()
