"""The CLI end to end on a fresh SQLite data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expertloop.cli.main import app
from expertloop.settings import get_settings

runner = CliRunner()


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EXPERTLOOP_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_db_upgrade_users_create_and_list(data_env: Path) -> None:
    result = runner.invoke(app, ["db", "current"])
    assert "behind" in result.output
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in runner.invoke(app, ["db", "current"]).output

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
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "c@client.example.com",
            "--name",
            "Cee",
            "--role",
            "client",
            "--organisation",
            "Acme Labs",
            "--password",
            "client-pass-12",
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["users", "list", "--json"])
    rows = json.loads(result.output)
    assert {(r["email"], r["role"], r["organisation"]) for r in rows} == {
        ("ops@ex.expertloop.org", "operator", "Operations"),
        ("c@client.example.com", "client", "Acme Labs"),
    }
    table = runner.invoke(app, ["users", "list", "--role", "client"]).output
    assert "c@client.example.com" in table and "ops@ex" not in table


def test_users_create_errors_are_clear(data_env: Path) -> None:
    runner.invoke(app, ["db", "upgrade"])
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "x@ex.expertloop.org",
            "--name",
            "X",
            "--role",
            "expert",
            "--password",
            "short",
        ],
    )
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "--email",
            "c@ex.expertloop.org",
            "--name",
            "C",
            "--role",
            "client",
            "--password",
            "long-enough-1",
        ],
    )
    assert result.exit_code == 1 and "--organisation" in result.output


def test_serve_refuses_schema_behind_and_placeholder_secret(
    data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "expertloop db upgrade" in result.output
    monkeypatch.setenv("EXPERTLOOP_ENV", "production")
    get_settings.cache_clear()
    result = runner.invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 1 and "EXPERTLOOP_SECRET_KEY" in result.output


def test_demo_prepares_and_prints_logins(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "demo"), "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "operator@demo.expertloop.org" in result.output
    assert "http://127.0.0.1:8000/login" in result.output
    again = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "demo"), "--no-serve"])
    assert again.exit_code == 0 and "already present" in again.output
