"""expert search head: a second, short full-text index over headline, domains and credentials

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:15:00

Free-text matching ranks in tiers (``expertloop.experts.matching``): experts whose *head* (the
headline, the domain and specialty labels, credentials and education: 20-40 words) matches come
first, ranked by relevance in the head; experts found only in the long fields (résumé, interview)
come after. Ranking the head is cheap because it is short, so this migration indexes it apart:

* SQLite: a second FTS5 table ``expert_search_head`` with external content on the same documents
  table (only its three head columns), bm25 weights as its default rank; the triggers of 0011 are
  replaced by ones that feed both FTS tables.
* PostgreSQL: the vectors move to a narrow table ``expert_search_vectors`` (user id, ``head``,
  ``body``), each with a GIN index, written by a trigger on the documents table. The head vector
  (a few hundred bytes) stays in the row; the body vector (all five fields, weights A..D, what
  0011's generated ``document`` column held) always goes to TOAST (``STORAGE EXTERNAL``,
  ``toast_tuple_target`` 128). So a GIN bitmap over either vector reads about 40 rows per 8 KB
  page, never the wide documents, and a body vector is read from TOAST only for the pool of
  candidates that gets ranked. 0011's ``document`` column and its GIN index are dropped.

Existing documents are indexed by the migration itself (FTS5 ``rebuild``; PostgreSQL an
``INSERT … SELECT``).
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ALL = "headline, expertise, credentials, resume, interview"
_HEAD = "headline, expertise, credentials"


def _values(prefix: str, columns: str) -> str:
    return ", ".join(f"{prefix}.{c.strip()}" for c in columns.split(","))


def _triggers(*, with_head: bool) -> list[str]:
    def add(table: str, cols: str) -> str:
        values = _values("new", cols)
        return f"INSERT INTO {table} (rowid, {cols}) VALUES (new.user_id, {values});"  # noqa: S608 - constants

    def forget(table: str, cols: str) -> str:
        return (
            f"INSERT INTO {table} ({table}, rowid, {cols}) "  # noqa: S608 - constants
            f"VALUES ('delete', old.user_id, {_values('old', cols)});"
        )

    tables = [("expert_search_fts", _ALL)]
    if with_head:
        tables.append(("expert_search_head", _HEAD))
    adds = "\n".join(add(t, c) for t, c in tables)
    forgets = "\n".join(forget(t, c) for t, c in tables)
    return [
        f"CREATE TRIGGER expert_search_docs_ai AFTER INSERT ON expert_search_docs BEGIN\n"
        f"{adds}\nEND",
        f"CREATE TRIGGER expert_search_docs_ad AFTER DELETE ON expert_search_docs BEGIN\n"
        f"{forgets}\nEND",
        f"CREATE TRIGGER expert_search_docs_au AFTER UPDATE ON expert_search_docs BEGIN\n"
        f"{forgets}\n{adds}\nEND",
    ]


def _drop_triggers() -> None:
    for trigger in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS expert_search_docs_{trigger}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"""
            CREATE VIRTUAL TABLE expert_search_head USING fts5(
                {_HEAD},
                content='expert_search_docs', content_rowid='user_id',
                tokenize='porter unicode61 remove_diacritics 2'
            )
            """
        )
        op.execute(
            "INSERT INTO expert_search_head (expert_search_head, rank) "
            "VALUES ('rank', 'bm25(6.0, 4.0, 2.0)')"
        )
        op.execute("INSERT INTO expert_search_head (expert_search_head) VALUES ('rebuild')")
        _drop_triggers()
        for statement in _triggers(with_head=True):
            op.execute(statement)
        return
    op.execute("DROP INDEX IF EXISTS ix_expert_search_docs_document")
    op.execute("ALTER TABLE expert_search_docs DROP COLUMN IF EXISTS document")
    op.execute(
        """
        CREATE TABLE expert_search_vectors (
            user_id INTEGER NOT NULL PRIMARY KEY
                REFERENCES expert_search_docs (user_id) ON DELETE CASCADE,
            head tsvector NOT NULL,
            body tsvector NOT NULL
        ) WITH (toast_tuple_target = 128)
        """
    )
    op.execute("ALTER TABLE expert_search_vectors ALTER COLUMN head SET STORAGE MAIN")
    op.execute("ALTER TABLE expert_search_vectors ALTER COLUMN body SET STORAGE EXTERNAL")
    op.execute(
        f"""
        CREATE FUNCTION expert_search_vectors_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO expert_search_vectors (user_id, head, body)
            VALUES (NEW.user_id, {_pg_head("NEW")}, {_pg_body("NEW")})
            ON CONFLICT (user_id) DO UPDATE SET head = EXCLUDED.head, body = EXCLUDED.body;
            RETURN NULL;
        END
        $$
        """  # noqa: S608 - constants
    )
    op.execute(
        "CREATE TRIGGER expert_search_docs_vectors AFTER INSERT OR UPDATE ON expert_search_docs "
        "FOR EACH ROW EXECUTE FUNCTION expert_search_vectors_write()"
    )
    op.execute(
        "INSERT INTO expert_search_vectors (user_id, head, body) "  # noqa: S608 - constants
        f"SELECT d.user_id, {_pg_head('d')}, {_pg_body('d')} FROM expert_search_docs d"
    )
    op.execute(
        "CREATE INDEX ix_expert_search_vectors_head ON expert_search_vectors USING gin (head)"
    )
    op.execute(
        "CREATE INDEX ix_expert_search_vectors_body ON expert_search_vectors USING gin (body)"
    )


def _pg_vector(row: str, weights: tuple[tuple[str, str], ...]) -> str:
    return " || ".join(
        f"setweight(to_tsvector('english'::regconfig, {row}.{col}), '{w}')" for col, w in weights
    )


def _pg_head(row: str) -> str:
    return _pg_vector(row, (("headline", "A"), ("expertise", "A"), ("credentials", "B")))


def _pg_body(row: str) -> str:
    return _pg_vector(
        row,
        (
            ("headline", "A"),
            ("expertise", "A"),
            ("credentials", "B"),
            ("resume", "C"),
            ("interview", "D"),
        ),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _drop_triggers()
        for statement in _triggers(with_head=False):
            op.execute(statement)
        op.execute("DROP TABLE IF EXISTS expert_search_head")
        return
    op.execute("DROP TRIGGER IF EXISTS expert_search_docs_vectors ON expert_search_docs")
    op.execute("DROP FUNCTION IF EXISTS expert_search_vectors_write()")
    op.execute("DROP TABLE IF EXISTS expert_search_vectors")
    op.execute(
        f"""
        ALTER TABLE expert_search_docs ADD COLUMN document tsvector GENERATED ALWAYS AS (
            {_pg_body("expert_search_docs")}
        ) STORED
        """
    )
    op.execute(
        "CREATE INDEX ix_expert_search_docs_document ON expert_search_docs USING gin (document)"
    )
