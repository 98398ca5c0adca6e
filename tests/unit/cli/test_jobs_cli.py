"""``expertloop jobs list|show`` and ``expertloop worker`` on a fresh SQLite data directory."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expertloop.cli.main import app
from expertloop.db import make_engine, make_session_factory, transaction
from expertloop.jobs.models import Job, JobStatus
from expertloop.settings import Settings, get_settings
from expertloop.types import utcnow

runner = CliRunner()


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EXPERTLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("EXPERTLOOP_REDIS_URL", raising=False)
    monkeypatch.delenv("EXPERTLOOP_JOBS_IMMEDIATE", raising=False)
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "ops@ex.expertloop.org",
            "--name",
            "Ops",
            "--role",
            "operator",
            "--password",
            "operator-pass-1",
        ],
    )
    assert result.exit_code == 0, result.output
    yield tmp_path
    get_settings.cache_clear()


def _add_job(data_dir: Path, **fields: object) -> int:
    engine = make_engine(Settings(env="development", data_dir=data_dir))
    try:
        with transaction(make_session_factory(engine)) as s:
            job = Job(payload={}, title="A thing", **{"kind": "test.thing", **fields})
            s.add(job)
            s.flush()
            return job.id
    finally:
        engine.dispose()


def test_jobs_list_and_show(data_env: Path) -> None:
    first = _add_job(data_env, status=JobStatus.done, result={"rows": 3})
    second = _add_job(data_env, progress_done=1, progress_total=4)
    listed = runner.invoke(app, ["jobs", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [j["id"] for j in json.loads(listed.output)] == [second, first]
    shown = runner.invoke(app, ["jobs", "show", str(first), "--json"])
    body = json.loads(shown.output)
    assert (body["status"], body["result"]) == ("done", {"rows": 3})
    table = runner.invoke(app, ["jobs", "list"])
    assert "A thing" in table.output and "1/4" in table.output
    missing = runner.invoke(app, ["jobs", "show", "999"])
    assert missing.exit_code == 1 and "No such job" in missing.output


def test_worker_command_reaps_and_stops_on_sigint(data_env: Path) -> None:
    """A real ``expertloop worker`` process: it fails a job of an unknown kind, then stops."""
    job_id = _add_job(
        data_env, kind="test.unknown_kind", enqueued_at=utcnow() - dt.timedelta(seconds=30)
    )
    env = {
        **os.environ,
        "EXPERTLOOP_ENV": "development",
        "EXPERTLOOP_DATA_DIR": str(data_env),
        "EXPERTLOOP_JOBS_LEASE_SECONDS": "5",
    }
    env.pop("EXPERTLOOP_DATABASE_URL", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "expertloop"), "worker", "--threads", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # The job was never enqueued (its message was lost): the worker's start-up reap sends it.
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            shown = runner.invoke(app, ["jobs", "show", str(job_id), "--json"])
            status = json.loads(shown.output)["status"]
            if status == "failed":
                break
            time.sleep(0.5)
            if proc.poll() is not None:
                break
        assert status == "failed", proc.stdout.read() if proc.poll() is not None else status
        body = json.loads(runner.invoke(app, ["jobs", "show", str(job_id), "--json"]).output)
        assert "No handler" in body["error"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "Worker started" in out
