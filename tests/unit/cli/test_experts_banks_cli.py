"""``expertloop experts banks install`` and ``list`` on a fresh SQLite data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expertloop.cli.main import app
from expertloop.settings import get_settings

runner = CliRunner()


def _flat(text: str) -> str:
    """The output with Rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EXPERTLOOP_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_install_is_idempotent_and_list_shows_the_banks(data_env: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(
        app,
        ["users", "create", "--email", "ops@ex.expertloop.org", "--name", "Ops",
         "--role", "operator", "--password", "operator-pass-1"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    first = runner.invoke(app, ["experts", "banks", "install"])
    assert first.exit_code == 0, first.output
    assert "Created 4 bank(s) and 40 question(s)" in _flat(first.output)
    again = runner.invoke(app, ["experts", "banks", "install"])
    assert "Created 0 bank(s) and 0 question(s); updated 0." in _flat(again.output)
    listed = runner.invoke(app, ["experts", "banks", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["domain"] for r in rows] == ["finance", "law", "medicine", "software"]
    assert all(r["active_questions"] == 10 and r["by_kind"]["free_text"] >= 2 for r in rows)
    table = runner.invoke(app, ["experts", "banks", "list"])
    assert table.exit_code == 0 and "Medicine" in table.output
    # A broken bank file is refused with its name and question number, not a stack trace.
    folder = tmp_path / "banks"
    folder.mkdir()
    (folder / "bad.json").write_text(
        json.dumps(
            {
                "domain": "physics",
                "title": "Physics",
                "questions": [{"kind": "choice", "text": "Q?", "choices": ["a"], "answer": 0}],
            }
        ),
        encoding="utf-8",
    )
    bad = runner.invoke(app, ["experts", "banks", "install", "--from", str(folder)])
    assert bad.exit_code == 1 and "bad.json, question 1" in _flat(bad.output)
