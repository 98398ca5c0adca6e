"""``expertloop import PROJECT_ID FILE`` on a fresh SQLite data directory (jobs run inline)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expertloop.accounts.models import Role
from expertloop.cli.main import app
from expertloop.db import make_engine, make_session_factory, transaction
from expertloop.settings import Settings, get_settings
from tests.factories import make_org, make_project, make_user

runner = CliRunner()


@pytest.fixture
def project_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EXPERTLOOP_JOBS_IMMEDIATE", "true")
    monkeypatch.delenv("EXPERTLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("EXPERTLOOP_REDIS_URL", raising=False)
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(Settings(env="development", data_dir=tmp_path))
    with transaction(make_session_factory(engine)) as session:
        operator = make_user(session, Role.operator)
        project = make_project(session, make_org(session), operator, "Seeded project")
        pid = project.id
    engine.dispose()
    yield pid
    get_settings.cache_clear()


def test_import_prints_the_rows_imported(project_id: int, tmp_path: Path) -> None:
    path = tmp_path / "seeds.jsonl"
    path.write_text(
        "".join(json.dumps({"title": f"P{i}", "prompt": "Go."}) + "\n" for i in range(3))
    )
    result = runner.invoke(app, ["import", str(project_id), str(path)])
    assert result.exit_code == 0, result.output
    assert "3 seeds imported" in result.output
    again = runner.invoke(app, ["import", str(project_id), str(path), "--json"])
    assert again.exit_code == 0, again.output
    body = json.loads(again.output)
    assert body["duplicate"] is True and body["rows_imported"] == 3
    assert list((tmp_path / "uploads").glob("*")) == []


def test_import_failure_lists_lines_and_exits_1(project_id: int, tmp_path: Path) -> None:
    path = tmp_path / "seeds.csv"
    path.write_text('title,prompts\nGood,"[""a""]"\nBad,oops\n')
    result = runner.invoke(app, ["import", str(project_id), str(path)])
    assert result.exit_code == 1
    assert "nothing was imported" in result.output and "prompts" in result.output
    assert "3" in result.output  # the line of the bad record


def test_import_refuses_unknown_format_and_other_projects(project_id: int, tmp_path: Path) -> None:
    path = tmp_path / "seeds.txt"
    path.write_text("x")
    result = runner.invoke(app, ["import", str(project_id), str(path)])
    assert result.exit_code == 1 and "label_studio" in result.output
    missing = runner.invoke(app, ["import", "999", str(path), "--format", "jsonl"])
    assert missing.exit_code == 1 and "not found" in missing.output.lower()
