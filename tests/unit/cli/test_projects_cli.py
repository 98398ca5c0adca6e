"""``expertloop projects``: list, staff and unstaff, on the demo data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expertloop.cli.demo_work import PROJECT_NAME
from expertloop.cli.main import app
from expertloop.settings import get_settings

runner = CliRunner()


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EXPERTLOOP_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path), "--no-serve"])
    assert result.exit_code == 0, result.output
    yield tmp_path
    get_settings.cache_clear()


def test_staff_and_unstaff_an_expert(demo_env: Path) -> None:
    listed = runner.invoke(app, ["projects", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    project = next(p for p in json.loads(listed.output) if p["name"] == "Finance agent evaluation")

    created = runner.invoke(
        app,
        [
            "users", "create", "--email", "new.expert@experts.expertloop.org", "--name", "New",
            "--role", "expert", "--password", "expert-pass-12",
        ],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    args = ["--project", str(project["id"]), "--email", "new.expert@experts.expertloop.org"]

    staffed = runner.invoke(app, ["projects", "staff", *args])
    assert staffed.exit_code == 0, staffed.output
    assert "Staffed new.expert@experts.expertloop.org as expert" in staffed.output

    again = runner.invoke(app, ["projects", "staff", *args])
    assert again.exit_code == 1
    assert "already staffed" in again.output
    assert "Traceback" not in again.output

    as_reviewer = runner.invoke(app, ["projects", "unstaff", *args])
    assert as_reviewer.exit_code == 0, as_reviewer.output
    wrong_role = runner.invoke(app, ["projects", "staff", *args, "--role", "reviewer"])
    assert wrong_role.exit_code == 1
    assert "cannot be staffed as reviewer" in wrong_role.output
    not_a_lead = runner.invoke(app, ["projects", "staff", *args, "--role", "lead"])
    assert not_a_lead.exit_code == 1
    assert "cannot be staffed as lead" in not_a_lead.output


def test_staff_errors_are_clear(demo_env: Path) -> None:
    unknown = runner.invoke(
        app, ["projects", "staff", "--project", "1", "--email", "nobody@example.com"]
    )
    assert unknown.exit_code == 1
    assert "No user with email nobody@example.com" in unknown.output
    missing = runner.invoke(
        app, ["projects", "staff", "--project", "999", "--email", "amira@experts.expertloop.org"]
    )
    assert missing.exit_code == 1
    assert "Project not found" in missing.output
    bad_actor = runner.invoke(
        app,
        [
            "projects", "unstaff", "--project", "1", "--email", "amira@experts.expertloop.org",
            "--operator", "client@northwind.example.com",
        ],
    )  # fmt: skip
    assert bad_actor.exit_code == 1
    assert "is not an active operator" in bad_actor.output


def _demo_project() -> dict[str, object]:
    listed = json.loads(runner.invoke(app, ["projects", "list", "--json"]).output)
    return next(p for p in listed if p["name"] == PROJECT_NAME)


def test_staff_changes_the_role_of_someone_already_on_the_project(demo_env: Path) -> None:
    project = _demo_project()
    args = ["--project", str(project["id"]), "--email", "rosa@experts.expertloop.org"]
    back = runner.invoke(app, ["projects", "staff", *args, "--role", "reviewer"])
    assert back.exit_code == 0, back.output
    assert "from lead to reviewer" in " ".join(back.output.split())  # Rich wraps lines
    lead = runner.invoke(app, ["projects", "staff", *args, "--role", "lead"])
    assert lead.exit_code == 0 and "from reviewer to lead" in " ".join(lead.output.split())
    again = runner.invoke(app, ["projects", "staff", *args, "--role", "lead"])
    assert again.exit_code == 1 and "already staffed" in again.output


def test_staff_without_a_role_never_changes_someone_already_on_the_project(
    demo_env: Path,
) -> None:
    project = _demo_project()
    args = ["--project", str(project["id"]), "--email", "rosa@experts.expertloop.org"]
    again = runner.invoke(app, ["projects", "staff", *args])  # Rosa leads: no --role, no change
    assert again.exit_code == 1 and "already staffed" in again.output
    as_lead = runner.invoke(app, ["projects", "staff", *args, "--role", "lead"])
    assert as_lead.exit_code == 1 and "already staffed" in as_lead.output
