"""Settings: safe defaults, refusal of the placeholder secret, every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from expertloop.errors import ConfigurationError
from expertloop.settings import Settings

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_production_refuses_placeholder_secret() -> None:
    with pytest.raises(ConfigurationError, match="EXPERTLOOP_SECRET_KEY"):
        Settings(env="production").check_startable()


@pytest.mark.parametrize("env", ["development", "demo", "test"])
def test_dev_modes_accept_placeholder(env: str) -> None:
    Settings(env=env).check_startable()  # type: ignore[arg-type]


def test_short_real_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="32 characters"):
        Settings(env="production", secret_key="short").check_startable()  # type: ignore[arg-type]


def test_secret_never_shows_in_repr() -> None:
    s = Settings(env="production", secret_key="x" * 40)  # type: ignore[arg-type]
    assert "x" * 40 not in repr(s) and "x" * 40 not in str(s.model_dump())


def test_environment_prefix_and_derived_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", "/tmp/el-data")
    s = Settings()
    assert s.env == "development" and s.cookie_secure is False
    assert s.resolved_database_url() == "sqlite:////tmp/el-data/expertloop.sqlite3"
    assert Settings(env="production").cookie_secure is True


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(EXPERTLOOP_[A-Z0-9_]+)`", text))
    fields = {f"EXPERTLOOP_{name.upper()}" for name in Settings.model_fields}
    missing = fields - documented
    assert not missing, f"undocumented settings in docs/configuration.md: {sorted(missing)}"
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


def test_private_networks_must_be_cidrs() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not a CIDR"):
        Settings(private_endpoint_networks=["10.0.0.0/8", "intranet"])
    assert Settings(private_endpoint_networks=["10.1.2.3/32"]).private_endpoint_networks
