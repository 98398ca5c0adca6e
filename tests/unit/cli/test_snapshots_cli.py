"""``expertloop snapshots create|list|export`` on a real data directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expertloop.cli.main import app
from expertloop.db import make_engine, make_session_factory, transaction
from expertloop.llm.hub import ModelHub
from expertloop.settings import Settings, get_settings
from tests.factories import make_world, scripted_target
from tests.snapshot_data import accepted_problem_set

runner = CliRunner()


@pytest.fixture
def project_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A data directory whose project has two accepted problem sets (and an operator)."""
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    for name in ("DATABASE_URL", "REDIS_URL", "JOBS_IMMEDIATE", "SNAPSHOTS_DIR"):
        monkeypatch.delenv(f"EXPERTLOOP_{name}", raising=False)
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    settings = Settings(env="development", data_dir=tmp_path)
    engine = make_engine(settings)
    try:
        with transaction(make_session_factory(engine)) as db:
            world = make_world(db)
            endpoint = scripted_target(db, ModelHub.from_settings(settings), world.project_a)
            for n in (1, 2):
                accepted_problem_set(
                    db, world.project_a, world.expert_a, world.reviewer_a, endpoint, title=f"R{n}"
                )
            pid = world.project_a.id
    finally:
        engine.dispose()
    yield pid
    get_settings.cache_clear()


def test_create_list_and_export(
    project_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a worker, --no-wait leaves the snapshot building.
    queued = runner.invoke(app, ["snapshots", "create", str(project_id), "--no-wait", "--json"])
    assert queued.exit_code == 0, queued.output
    first = json.loads(queued.output)
    assert (first["number"], first["status"]) == (1, "building")
    refused = runner.invoke(app, ["snapshots", "export", str(first["id"]), "--out", "x"])
    assert refused.exit_code == 1 and "is building" in refused.output

    # Immediate mode builds it in the command itself.
    monkeypatch.setenv("EXPERTLOOP_JOBS_IMMEDIATE", "true")
    get_settings.cache_clear()
    made = runner.invoke(
        app,
        ["snapshots", "create", str(project_id), "--test-fraction", "0.5", "--from", "2020-01-01"],
    )
    assert made.exit_code == 0, made.output
    assert "Snapshot 2 ready" in made.output
    listed = json.loads(runner.invoke(app, ["snapshots", "list", str(project_id), "--json"]).output)
    assert [(s["number"], s["status"]) for s in listed] == [(2, "ready"), (1, "building")]
    second = listed[0]
    assert second["test_fraction"] == 0.5
    assert second["filters"]["accepted_from"] == "2020-01-01"
    table = runner.invoke(app, ["snapshots", "list", str(project_id)])
    assert table.exit_code == 0 and "ready" in table.output

    out = tmp_path / "export"
    exported = runner.invoke(app, ["snapshots", "export", str(second["id"]), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(["manifest.json", "README.md", *(f["path"] for f in second["files"])])
    for f in second["files"]:
        assert hashlib.sha256((out / f["path"]).read_bytes()).hexdigest() == f["sha256"]
    again = runner.invoke(app, ["snapshots", "export", str(second["id"]), "--out", str(out)])
    assert again.exit_code == 1 and "not an empty folder" in again.output

    only = tmp_path / "sft"
    one = runner.invoke(
        app,
        ["snapshots", "export", str(second["id"]), "--out", str(only), "--format", "openai-sft"],
    )
    assert one.exit_code == 0, one.output
    data = sorted(p.relative_to(only).as_posix() for p in (only / "data").rglob("*") if p.is_file())
    assert data and all(p.startswith("data/openai-sft/") for p in data)
    assert (only / "manifest.json").is_file() and (only / "README.md").is_file()
    unknown = runner.invoke(
        app,
        ["snapshots", "export", str(second["id"]), "--out", str(tmp_path / "u"), "--format", "x"],
    )
    assert unknown.exit_code == 1 and "no format 'x'" in unknown.output

    missing = runner.invoke(app, ["snapshots", "create", "999"])
    assert missing.exit_code == 1 and "Project not found" in missing.output
