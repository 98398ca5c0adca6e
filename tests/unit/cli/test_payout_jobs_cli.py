"""``expertloop payouts run`` through the job queue, with a real worker on the demo's queue file."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expertloop.cli import common
from expertloop.cli.main import app
from expertloop.db import make_engine, make_session_factory
from expertloop.llm.hub import ModelHub
from expertloop.settings import get_settings
from expertloop.web.wiring import build_queue
from tests.unit.cli.test_payouts_cli import (
    AMIRA,
    KENJI,
    PERIOD,
    _counts,
    _project_id,
    _set_rates,
    approve_time,
)

runner = CliRunner()


@pytest.fixture
def queued_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The demo without immediate jobs, and a worker consuming its queue in this process."""
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EXPERTLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("EXPERTLOOP_JOBS_IMMEDIATE", raising=False)
    monkeypatch.setattr(common.console, "_width", 200)
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path), "--no-serve"])
    assert result.exit_code == 0, result.output
    cfg = get_settings()
    assert not cfg.jobs_immediate
    engine = make_engine(cfg)
    queue = build_queue(cfg, make_session_factory(engine), ModelHub.from_settings(cfg))
    consumer = queue.start_in_process(workers=1)
    try:
        yield tmp_path
    finally:
        consumer.close()
        engine.dispose()
        get_settings.cache_clear()


def test_payout_run_goes_through_the_queue(queued_env: Path) -> None:
    _set_rates(_project_id())
    approve_time(AMIRA, 100, dt.date(2026, 11, 18))
    approve_time(KENJI, 60, dt.date(2026, 11, 20))
    before = _counts()

    paid = runner.invoke(app, ["payouts", "run", "--period", PERIOD])
    assert paid.exit_code == 0, paid.output
    assert "done" in paid.output and "Payout run #1" in paid.output
    assert "Total paid: EUR 90.00, USD 312.22" in paid.output
    assert _counts() == (1, 2, before[2] + 2)
    jobs = json.loads(runner.invoke(app, ["jobs", "list", "--json"]).output)
    (job,) = [j for j in jobs if j["kind"] == "payments.payout_run"]
    assert job["status"] == "done" and job["result"]["run_id"] == 1

    # The same period again: the same job answers, nobody is paid twice.
    again = runner.invoke(app, ["payouts", "run", "--period", PERIOD])
    assert again.exit_code == 0, again.output
    assert f"Job {job['id']} done" in again.output and "Payout run #1" in again.output
    assert _counts() == (1, 2, before[2] + 2)

    # --no-wait returns at once; `jobs show --wait` follows the job to its end.
    queued = runner.invoke(
        app, ["payouts", "run", "--period", PERIOD, "--key", "w47b", "--no-wait"]
    )
    assert queued.exit_code == 0, queued.output
    assert "queued as job" in queued.output
    job_id = int(queued.output.split("queued as job ")[1].split(":")[0])
    shown = runner.invoke(app, ["jobs", "show", str(job_id), "--wait", "--json"])
    assert shown.exit_code == 0, shown.output
    followed = json.loads(shown.output)
    assert followed["status"] == "done" and followed["result"]["payouts"] == 0
    assert _counts() == (2, 2, before[2] + 2)

    # --inline pays in this process, no job; a refusal is one line before anything is queued.
    inline = runner.invoke(app, ["payouts", "run", "--period", PERIOD, "--key", "w47c", "--inline"])
    assert inline.exit_code == 0 and "Payout run #3" in inline.output
    clash = runner.invoke(
        app, ["payouts", "run", "--period", "2026-11-09..2026-11-22", "--key", "w47b"]
    )
    assert clash.exit_code == 1 and "used for another period" in clash.output
    assert "Traceback" not in clash.output
    jobs = json.loads(runner.invoke(app, ["jobs", "list", "--json"]).output)
    assert len([j for j in jobs if j["kind"] == "payments.payout_run"]) == 2
