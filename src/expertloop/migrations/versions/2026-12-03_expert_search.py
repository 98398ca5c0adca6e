"""expert search: the matching index (SQLite FTS5 over a documents table; PostgreSQL tsvector + GIN)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 19:10:00

One row per expert in ``expert_search_docs`` holds the searchable text (headline, domain and
specialty labels, credentials and education, résumé, the candidate's interview answers), written
by ``expertloop.experts.search_index``. The database keeps the full-text index in step with it:

* SQLite: an FTS5 table with *external content* (``content='expert_search_docs'``), so the text is
  stored once; triggers on the documents table feed it the old and the new values of every change
  (what an external-content index needs to delete correctly). bm25 weights per column are set as
  the table's default rank. Porter stemming over unicode61 without diacritics.
* PostgreSQL: a stored generated ``tsvector`` column (weights A..D per field, ``english``) with a
  GIN index.

These objects are not SQLAlchemy models (their shape differs per dialect); ``search_index.
include_name`` keeps them out of the models-versus-migrations comparison.
"""

from __future__ import annotations

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_SQLITE = [
    """
    CREATE TABLE expert_search_docs (
        user_id INTEGER NOT NULL PRIMARY KEY
            REFERENCES expert_profiles (user_id) ON DELETE CASCADE,
        headline TEXT NOT NULL DEFAULT '',
        expertise TEXT NOT NULL DEFAULT '',
        credentials TEXT NOT NULL DEFAULT '',
        resume TEXT NOT NULL DEFAULT '',
        interview TEXT NOT NULL DEFAULT ''
    )
    """,
    """
    CREATE VIRTUAL TABLE expert_search_fts USING fts5(
        headline, expertise, credentials, resume, interview,
        content='expert_search_docs', content_rowid='user_id',
        tokenize='porter unicode61 remove_diacritics 2'
    )
    """,
    # Headline and expertise weigh most, then credentials; résumé and interview are long.
    "INSERT INTO expert_search_fts (expert_search_fts, rank) "
    "VALUES ('rank', 'bm25(6.0, 4.0, 2.0, 1.0, 1.0)')",
    """
    CREATE TRIGGER expert_search_docs_ai AFTER INSERT ON expert_search_docs BEGIN
        INSERT INTO expert_search_fts (rowid, headline, expertise, credentials, resume, interview)
        VALUES (new.user_id, new.headline, new.expertise, new.credentials, new.resume,
                new.interview);
    END
    """,
    """
    CREATE TRIGGER expert_search_docs_ad AFTER DELETE ON expert_search_docs BEGIN
        INSERT INTO expert_search_fts
            (expert_search_fts, rowid, headline, expertise, credentials, resume, interview)
        VALUES ('delete', old.user_id, old.headline, old.expertise, old.credentials, old.resume,
                old.interview);
    END
    """,
    """
    CREATE TRIGGER expert_search_docs_au AFTER UPDATE ON expert_search_docs BEGIN
        INSERT INTO expert_search_fts
            (expert_search_fts, rowid, headline, expertise, credentials, resume, interview)
        VALUES ('delete', old.user_id, old.headline, old.expertise, old.credentials, old.resume,
                old.interview);
        INSERT INTO expert_search_fts (rowid, headline, expertise, credentials, resume, interview)
        VALUES (new.user_id, new.headline, new.expertise, new.credentials, new.resume,
                new.interview);
    END
    """,
]

_POSTGRESQL = [
    """
    CREATE TABLE expert_search_docs (
        user_id INTEGER NOT NULL PRIMARY KEY
            REFERENCES expert_profiles (user_id) ON DELETE CASCADE,
        headline TEXT NOT NULL DEFAULT '',
        expertise TEXT NOT NULL DEFAULT '',
        credentials TEXT NOT NULL DEFAULT '',
        resume TEXT NOT NULL DEFAULT '',
        interview TEXT NOT NULL DEFAULT '',
        document tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english'::regconfig, headline), 'A')
            || setweight(to_tsvector('english'::regconfig, expertise), 'A')
            || setweight(to_tsvector('english'::regconfig, credentials), 'B')
            || setweight(to_tsvector('english'::regconfig, resume), 'C')
            || setweight(to_tsvector('english'::regconfig, interview), 'D')
        ) STORED
    )
    """,
    "CREATE INDEX ix_expert_search_docs_document ON expert_search_docs USING gin (document)",
]


# Covering indexes for the filters (declared on ExpertProfile too): by user for the join from
# the full-text matches, by vetting state (then user) for filter-only pages in user order.
_MATCH = (
    "vetting_state",
    "country",
    "utc_offset_minutes",
    "weekly_hours",
    "rate_currency",
    "rate_minor",
    "quality_score",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = _SQLITE if dialect == "sqlite" else _POSTGRESQL
    for statement in statements:
        op.execute(statement)
    op.create_index("ix_expert_profiles_match_user", "expert_profiles", ["user_id", *_MATCH])
    op.create_index(
        "ix_expert_profiles_match_state",
        "expert_profiles",
        ["vetting_state", "user_id", *_MATCH[1:]],
    )


def downgrade() -> None:
    op.drop_index("ix_expert_profiles_match_state", table_name="expert_profiles")
    op.drop_index("ix_expert_profiles_match_user", table_name="expert_profiles")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS expert_search_docs_{trigger}")
        op.execute("DROP TABLE IF EXISTS expert_search_fts")
    op.execute("DROP TABLE IF EXISTS expert_search_docs")
