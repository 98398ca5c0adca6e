"""``expertloop rates`` and ``expertloop payouts`` on the demo data, end to end."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from expertloop.accounts import users as users_uc
from expertloop.accounts.models import User
from expertloop.cli import common
from expertloop.cli.common import db_session
from expertloop.cli.demo_network import WORK_SAMPLE_HOURLY_MINOR, WORK_SAMPLE_PROJECT
from expertloop.cli.main import app
from expertloop.payments import payouts, timesheets
from expertloop.payments.models import LedgerTransaction, Payout, PayoutRun
from expertloop.projects.models import Project
from expertloop.settings import get_settings

runner = CliRunner()

OPERATOR = "operator@demo.expertloop.org"
AMIRA = "amira@experts.expertloop.org"
KENJI = "kenji@experts.expertloop.org"
PERIOD = "2026-11-16..2026-11-22"
WEEK = dt.date(2026, 11, 16)


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EXPERTLOOP_DATABASE_URL", raising=False)
    # No worker here: payout runs are made in this process (test_payout_jobs_cli: the queue).
    monkeypatch.setenv("EXPERTLOOP_JOBS_IMMEDIATE", "true")
    monkeypatch.setattr(common.console, "_width", 200)  # no wrapping of long lines and tables
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path), "--no-serve"])
    assert result.exit_code == 0, result.output
    yield tmp_path
    get_settings.cache_clear()


def _user(session: Session, email: str) -> User:
    user = users_uc.find_by_email(session=session, email=email)
    assert user is not None
    return user


def _project_id(name: str = "Finance agent evaluation") -> int:
    with db_session() as session:
        project_id = session.scalar(select(Project.id).where(Project.name == name))
    assert project_id is not None
    return project_id


def approve_time(email: str, minutes: int, work_date: dt.date) -> None:
    """Approved earnings through the domain: an approved adjustment, then an approved week."""
    cfg = get_settings()
    with db_session(cfg) as session:
        operator, expert = _user(session, OPERATOR), _user(session, email)
        project = session.scalar(select(Project).where(Project.name == "Finance agent evaluation"))
        assert project is not None
        adjustment = timesheets.request_adjustment(
            session=session,
            actor=expert,
            project=project,
            work_date=work_date,
            minutes=minutes,
            reason="Reviewed the guidelines offline",
        )
        timesheets.decide_adjustment(
            session=session, actor=operator, adjustment_id=adjustment.id, approve=True
        )
        week = timesheets.week_of(work_date)
        sheet = timesheets.submit(
            session=session, actor=expert, week_start=week, today=week + dt.timedelta(days=7)
        )
        timesheets.approve(
            session=session,
            actor=operator,
            sheet=sheet,
            idle_cutoff=dt.timedelta(seconds=cfg.activity_idle_cutoff_seconds),
            default_margin_bp=cfg.billing_margin_bp,
        )


def _counts() -> tuple[int, int, int]:
    with db_session() as session:
        return (
            session.scalar(select(func.count(PayoutRun.id))) or 0,
            session.scalar(select(func.count(Payout.id))) or 0,
            session.scalar(select(func.count(LedgerTransaction.id))) or 0,
        )


def _set_rates(project_id: int) -> None:
    on_project = runner.invoke(
        app,
        [
            "rates", "set", "--email", AMIRA, "--project", str(project_id), "--currency", "usd",
            "--hourly", "187.33", "--from", "2026-11-01",
        ],
    )  # fmt: skip
    assert on_project.exit_code == 0, on_project.output
    assert "USD 187.33/h from 2026-11-01" in on_project.output
    base = runner.invoke(
        app,
        ["rates", "set", "--email", KENJI, "--currency", "EUR", "--hourly", "90", "--from",
         "2026-11-01"],
    )  # fmt: skip
    assert base.exit_code == 0, base.output
    assert "(base rate)" in base.output


def test_rates_set_and_list(demo_env: Path) -> None:
    project_id = _project_id()
    _set_rates(project_id)
    project_wide = runner.invoke(
        app,
        ["rates", "set", "--project", str(project_id), "--currency", "USD", "--hourly",
         "1,200.5", "--from", "2026-12-01"],
    )  # fmt: skip
    assert project_wide.exit_code == 0, project_wide.output
    assert "every expert on Finance agent evaluation" in project_wide.output

    listed = runner.invoke(app, ["rates", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["email"], r["project_id"], r["currency"], r["hourly_minor"]) for r in rows] == [
        (None, project_id, "USD", 120050),  # newest effective date first
        (KENJI, None, "EUR", 9000),
        (AMIRA, project_id, "USD", 18733),
        # The demo's rates from the start of the year, newest first: the network's work-sample
        # project (every candidate there), then the staff's base rates.
        (None, _project_id(WORK_SAMPLE_PROJECT), "USD", WORK_SAMPLE_HOURLY_MINOR),
        ("rosa@experts.expertloop.org", None, "USD", 22000),
        (KENJI, None, "USD", 18500),
        (AMIRA, None, "USD", 18500),
    ]
    only_kenji = json.loads(
        runner.invoke(app, ["rates", "list", "--json", "--email", KENJI]).stdout
    )
    assert [r["hourly"] for r in only_kenji] == ["EUR 90.00", "USD 185.00"]
    table = runner.invoke(app, ["rates", "list"]).output
    assert "(every expert)" in table and "(base rate)" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hourly", "187.505"], "at most 2 decimals"),
        (["--hourly", "lots"], "is not an amount"),
        (["--hourly", "0"], "must be positive"),
        (["--currency", "dollars"], "is not a currency code"),
        (["--from", "2026-11-31"], "is not a date"),
        (["--email", "nobody@example.com"], "No user with email nobody@example.com"),
        (["--email", "", "--project", "999"], "Project not found"),
        (["--email", ""], "Give --email, --project, or both"),
        (["--operator", AMIRA], "is not an active operator"),
    ],
)
def test_rates_set_errors_are_one_line(demo_env: Path, args: list[str], message: str) -> None:
    base = {"--email": AMIRA, "--currency": "USD", "--hourly": "100", "--from": "2026-11-01"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["rates", "set"]
    for flag, value in base.items():
        if value:
            argv += [flag, value]
    result = runner.invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_payout_run_dry_run_then_pay_once(demo_env: Path, tmp_path: Path) -> None:
    project_id = _project_id()
    _set_rates(project_id)
    # 100 minutes at 187.33/h = 6000 s x 18733 / 3600 = 31221.67 cents, rounded once: 312.22.
    approve_time(AMIRA, 100, dt.date(2026, 11, 18))
    approve_time(KENJI, 60, dt.date(2026, 11, 20))
    before = _counts()

    dry = runner.invoke(app, ["payouts", "run", "--period", PERIOD, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "USD 312.22" in dry.output and "EUR 90.00" in dry.output
    assert AMIRA in dry.output and KENJI in dry.output
    assert "nothing was written" in dry.output
    assert _counts() == before

    paid = runner.invoke(app, ["payouts", "run", "--period", PERIOD])
    assert paid.exit_code == 0, paid.output
    assert "Paying experts" in paid.output and "2/2" in paid.output  # the progress bar
    assert "Payout run #1" in paid.output and "'cli:2026-11-16..2026-11-22'" in paid.output
    assert "Total paid: EUR 90.00, USD 312.22" in paid.output
    assert "expertloop payouts file 1" in paid.output
    runs, made, txns = _counts()
    assert (runs, made, txns) == (1, 2, before[2] + 2)

    again = runner.invoke(app, ["payouts", "run", "--period", PERIOD])
    assert again.exit_code == 0, again.output
    assert "Already ran (run #1)" in again.output
    assert "nobody was paid again" in again.output
    assert "Paying experts" not in again.output
    assert _counts() == (runs, made, txns)

    dry_again = runner.invoke(app, ["payouts", "run", "--period", PERIOD, "--dry-run"])
    assert dry_again.exit_code == 0, dry_again.output
    assert "Already ran (run #1" in dry_again.output
    assert "Nobody is owed anything up to 2026-11-22" in dry_again.output

    # Another key over the same period makes a run that pays nobody twice.
    other = runner.invoke(app, ["payouts", "run", "--period", PERIOD, "--key", "week-47-retry"])
    assert other.exit_code == 0, other.output
    assert "Payout run #2" in other.output and "Nobody was owed anything" in other.output
    assert _counts() == (2, made, txns)
    with db_session() as session:
        assert payouts.owed(session=session, until=dt.date(2026, 11, 22)) == []

    # The same key for another period is refused.
    clash = runner.invoke(
        app, ["payouts", "run", "--period", "2026-11-09..2026-11-22", "--key", "week-47-retry"]
    )
    assert clash.exit_code == 1
    assert "used for another period" in clash.output
    assert "Traceback" not in clash.output

    listed = json.loads(runner.invoke(app, ["payouts", "list", "--json"]).output)
    assert [(r["id"], r["payouts"], r["totals_minor"]) for r in listed] == [
        (2, 0, {}),
        (1, 2, {"EUR": 9000, "USD": 31222}),
    ]
    assert "cli:2026-11-16..2026-11-22" in runner.invoke(app, ["payouts", "list"]).output

    out = tmp_path / "payouts-run-1.csv"
    written = runner.invoke(app, ["payouts", "file", "1", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert f"Wrote 2 payout(s) of run #1 to {out}" in written.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["email"], r["currency"], r["amount_minor"], r["amount"]) for r in rows] == [
        (AMIRA, "USD", "31222", "USD 312.22"),
        (KENJI, "EUR", "9000", "EUR 90.00"),
    ]
    assert all(r["reference"].startswith("EXPERTLOOP-1-") for r in rows)
    printed = runner.invoke(app, ["payouts", "file", "1"])
    assert printed.exit_code == 0 and printed.output == out.read_text(encoding="utf-8")

    missing = runner.invoke(app, ["payouts", "file", "99"])
    assert missing.exit_code == 1 and "Payout run not found" in missing.output


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-11-16", "is not a period: use START..END"),
        ("last week", "is not a period: use START..END"),
        ("2026-11-16..2026-11-31", "is not a period: day is out of range"),
        ("2026-11-22..2026-11-16", "ends before it starts"),
    ],
)
def test_bad_period_is_a_clear_error(demo_env: Path, period: str, message: str) -> None:
    for extra in ([], ["--dry-run"]):
        result = runner.invoke(app, ["payouts", "run", "--period", period, *extra])
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert "Traceback" not in result.output
    assert _counts()[0] == 0


def test_payouts_need_an_operator(demo_env: Path) -> None:
    result = runner.invoke(app, ["payouts", "run", "--period", PERIOD, "--operator", AMIRA])
    assert result.exit_code == 1 and "is not an active operator" in result.output
    empty = runner.invoke(app, ["payouts", "run", "--period", PERIOD])
    assert empty.exit_code == 0, empty.output
    assert "Nobody was owed anything up to 2026-11-22" in empty.output
