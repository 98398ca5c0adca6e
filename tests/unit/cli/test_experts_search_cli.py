"""``expertloop experts search`` and ``reindex`` on a fresh SQLite data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from expertloop.accounts.models import Role, User
from expertloop.cli.main import app
from expertloop.db import make_engine, make_session_factory, transaction
from expertloop.experts.models import ExpertProfile, ProfileDomain
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


def test_search_and_reindex(data_env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(
        app,
        ["users", "create", "--email", "ops@ex.expertloop.org", "--name", "Ops",
         "--role", "operator", "--password", "operator-pass-1"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    engine = make_engine(get_settings())
    with transaction(make_session_factory(engine)) as db:
        org_id = db.query(User).one().organisation_id
        expert = User(
            organisation_id=org_id,
            email="vulcan@ex.expertloop.org",
            name="Vera [bold]Vulcan[/bold]",
            role=Role.expert,
            password_hash="!",
        )
        db.add(expert)
        db.flush()
        db.add(ExpertProfile(user_id=expert.id, headline="Volcanologist", country="IS"))
        db.flush()
        db.add(ProfileDomain(user_id=expert.id, domain="physics", specialty=""))
        expert_id = expert.id
    engine.dispose()
    # Written straight to the tables: not in the index until it is rebuilt.
    assert "No expert matches." in runner.invoke(app, ["experts", "search", "volcanologist"]).output
    result = runner.invoke(app, ["experts", "reindex"])
    assert result.exit_code == 0 and "Indexed 1 experts." in result.output
    result = runner.invoke(
        app, ["experts", "search", "volcanologist", "--domain", "physics", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert [i["user_id"] for i in body["items"]] == [expert_id]
    assert body["next_cursor"] is None and "vulcan@" not in result.output
    table = runner.invoke(app, ["experts", "search", "volcanologist", "--country", "is"])
    assert "[bold]" in table.output  # the name as typed (wrapped), not Rich markup
    bad = runner.invoke(app, ["experts", "search", "x", "--domain", "alchemy"])
    assert bad.exit_code == 1 and "Unknown domain" in bad.output
    bad = runner.invoke(app, ["experts", "search", "x", "--country", "Iceland"])
    assert bad.exit_code == 1 and "two-letter" in bad.output
