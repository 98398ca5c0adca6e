"""Schema: one migration head, migrations equal to the models, the start-up schema check, and
the append-only audit log enforced by the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from expertloop.db import Base, alembic_config, check_schema_current, make_engine
from expertloop.errors import SchemaOutOfDateError
from expertloop.events import AuditLog
from expertloop.experts import search_index
from expertloop.settings import Settings
from tests.conftest import TEST_SECRET


def test_single_head_and_dated_names(engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config(engine))
    assert len(script.get_heads()) == 1
    for rev in script.walk_revisions():
        name = Path(rev.path).name
        assert name[:10].count("-") == 2 and name[10] == "_", name


def test_migrations_match_models(connection: Connection) -> None:
    # The matching search index is dialect-specific DDL of migration 0011, not models.
    ctx = MigrationContext.configure(
        connection, opts={"compare_type": False, "include_name": search_index.include_name}
    )
    diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], diff


def test_current_schema_passes_check(engine: Engine) -> None:
    check_schema_current(engine)


def test_empty_database_is_refused(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, secret_key=TEST_SECRET)  # type: ignore[arg-type]
    engine = make_engine(settings)
    with pytest.raises(SchemaOutOfDateError, match="expertloop db upgrade"):
        check_schema_current(engine)
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, secret_key=TEST_SECRET)  # type: ignore[arg-type]
    engine = make_engine(settings)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET kind = 'tampered'",
        "DELETE FROM audit_log",
    ],
)
def test_audit_log_is_append_only(connection: Connection, statement: str) -> None:
    connection.execute(AuditLog.__table__.insert().values(kind="test.event", data={}))
    savepoint = connection.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        connection.execute(text(statement))
    savepoint.rollback()
    assert (
        connection.execute(text("SELECT count(*) FROM audit_log WHERE kind = 'tampered'")).scalar()
        == 0
    )
