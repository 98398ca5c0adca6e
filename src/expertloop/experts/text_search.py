"""Rank free-text matches in bounded tiers, so a common word costs about what a rare one does.

bm25 (SQLite FTS5) and ts_rank_cd (PostgreSQL) have no top-k shortcut: ranking every match of a
word found in half the documents costs seconds at a million experts. Matching therefore ranks a
bounded set of candidates, in three tiers, each after the one before:

1. **head**: experts whose *head* (headline, domain and specialty labels, credentials and
   education; the short index of migration 0012) matches; the first ``POOL`` of them that pass the
   filters, in index order, ranked by relevance in the head;
2. **body**: the first ``POOL`` experts whose whole document matches and who pass the filters, in
   index order, not already in the head tier, ranked by relevance in the whole document;
3. **rest**: every other match, by user id, unranked. It exists only when more than ``POOL``
   documents match after the filters; there ranking is an approximation (a head match past the
   first ``POOL`` shows up in the body or the rest tier).

"Index order" is ascending user id on SQLite (the FTS5 rowid) and the table's physical order on
PostgreSQL (a GIN bitmap is read in heap order; after a bulk ``rebuild`` that is the user id too,
a reindexed document moves to where PostgreSQL wrote it). Below ``POOL`` matches everything is
ranked exactly, tier by tier.

Scores are folded into one number that orders the tiers, so the keyset cursor stays a
(score, user id) pair: head ``2 + s / (1 + s)``, body ``1 + s / (1 + s)``, rest ``0``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.orm import Session

from expertloop.experts.models import ExpertProfile
from expertloop.experts.search_index import FTS_TABLE, HEAD_FTS_TABLE, VECTORS

POOL = 1000
SCAN = 4000  # PostgreSQL: matches read at most to fill a pool (see ``_pg_pool``)
HEAD_TIER, BODY_TIER = 2.0, 1.0


@dataclass(frozen=True)
class Pool:
    """One tier's ranked candidates, best first; ``full`` when more matches were left out."""

    scored: list[tuple[int, float]]
    full: bool


_NEGATION = re.compile(r"(?:^|\s)-\S")


def has_negation(text: str) -> bool:
    """Tell whether ``text`` excludes a word (``-word``, web-search syntax)."""
    return bool(_NEGATION.search(text))


def tsquery(text: str) -> Any:
    """Return PostgreSQL's ``websearch_to_tsquery`` of ``text`` (English)."""
    return func.websearch_to_tsquery(
        literal_column("'english'::regconfig"), bindparam("ts_q", text)
    )


def _fold(tier: float, raw: float) -> float:
    raw = max(float(raw), 0.0)
    return tier + raw / (1.0 + raw)


def _match(dialect: str, fts_q: str | None, text: str, *, head: bool) -> tuple[Any, Any, Any]:
    """Return (user id column, raw score column, match condition) of one index."""
    if dialect == "sqlite":
        name = HEAD_FTS_TABLE if head else FTS_TABLE
        fts = table(name, column("rowid", Integer), column("rank", Float))
        cond = literal_column(name).op("MATCH")(bindparam("fts_q", fts_q))
        return fts.c.rowid, -fts.c.rank, (fts, cond)  # bm25: lower is better
    vector = VECTORS.c.head if head else VECTORS.c.body
    tsq = tsquery(text)
    # float8: ts_rank_cd is a float4, whose text form would not round-trip in the cursor.
    score = cast(func.ts_rank_cd(vector, tsq, 1), DOUBLE_PRECISION)
    return VECTORS.c.user_id, score, (VECTORS, vector.op("@@")(tsq))


def custom_plans(session: Session) -> None:
    """Plan this transaction's statements for their own values (PostgreSQL; nothing on SQLite).

    psycopg prepares a statement run five times, and PostgreSQL then tries a generic plan that
    cannot see the values: at a million documents the pool of a word walked 10,000s of rows
    (0.8 s instead of 0.07 s), and at 100k the filter query "everything at once" took 170 ms
    instead of 6 ms. Matching's plans depend on how common the words and filter values are.
    ``SET LOCAL`` lasts for the transaction only; no server setting is changed.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql_text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _select(
    dialect: str,
    fts_q: str | None,
    text: str,
    filters: Sequence[ColumnElement[bool]],
    *,
    head: bool,
    scored: bool,
) -> tuple[Any, Any]:
    uid, score, (source, cond) = _match(dialect, fts_q, text, head=head)
    p = ExpertProfile
    cols = [uid, score] if scored else [uid]
    # PostgreSQL: ``+ 0`` keeps the planner from walking the documents by primary key (to merge
    # with the profiles in user order) and testing each TOASTed tsvector; the matches must come
    # from the GIN bitmap, so that the LIMIT stops reading the heap after the pool is full.
    key = uid if dialect == "sqlite" else uid + 0
    stmt = select(*cols).select_from(source).join(p, p.user_id == key).where(cond)
    for f in filters:
        stmt = stmt.where(f)
    return stmt, uid


def pool(
    session: Session,
    *,
    fts_q: str | None,
    text: str,
    filters: Sequence[ColumnElement[bool]],
    head: bool,
    exclude: frozenset[int] = frozenset(),
) -> Pool:
    """Return the head or the body tier: the first ``POOL`` matches passing ``filters``, ranked.

    ``exclude`` (the head tier's experts) is left out of the body tier after the pool is taken.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _pg_pool(session, text, filters, head=head, exclude=exclude)
    if head and has_negation(text):
        return _sqlite_negated_heads(session, fts_q, filters)
    stmt, _ = _select(dialect, fts_q, text, filters, head=head, scored=True)
    rows = session.execute(stmt.limit(POOL)).all()
    return _scored(rows, head=head, exclude=exclude, full=len(rows) >= POOL)


def _sqlite_negated_heads(
    session: Session, fts_q: str | None, filters: Sequence[ColumnElement[bool]]
) -> Pool:
    """Rank the head matches of a text with ``-word`` whose whole document matches too.

    A head without the excluded word may belong to a résumé with it, so each candidate is
    checked against the whole document (one FTS5 probe each, ~30 µs); only the first ``POOL``
    head matches are checked, so a word excluded from most of them cannot cost 6,000 probes.
    """
    head = table(HEAD_FTS_TABLE, column("rowid", Integer), column("rank", Float))
    match = literal_column(HEAD_FTS_TABLE).op("MATCH")(bindparam("fts_q", fts_q))
    first = select(head.c.rowid, head.c.rank).where(match).limit(POOL).subquery("first")
    fts = table(FTS_TABLE, column("rowid", Integer))
    whole = literal_column(FTS_TABLE).op("MATCH")(bindparam("fts_q", fts_q))
    p = ExpertProfile
    stmt = (
        select(first.c.rowid, -first.c.rank)
        .join(p, p.user_id == first.c.rowid)
        .where(exists().where(fts.c.rowid == first.c.rowid, whole))
    )
    for f in filters:
        stmt = stmt.where(f)
    return _scored(session.execute(stmt).all(), head=True, exclude=frozenset(), full=False)


def _scored(rows: Sequence[Any], *, head: bool, exclude: frozenset[int], full: bool) -> Pool:
    tier = HEAD_TIER if head else BODY_TIER
    scored = [(int(r[0]), _fold(tier, r[1])) for r in rows if int(r[0]) not in exclude]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return Pool(scored=scored, full=full)


def _pg_pool(
    session: Session,
    text: str,
    filters: Sequence[ColumnElement[bool]],
    *,
    head: bool,
    exclude: frozenset[int],
) -> Pool:
    """Rank the experts passing ``filters`` among the first ``SCAN`` matches (PostgreSQL).

    With selective filters a pool of ``POOL`` passing experts can take tens of thousands of
    matches to fill, each a heap row and an index probe (0.3 s at 1M for a common word and
    country + language filters); so PostgreSQL reads at most ``SCAN`` matches (a LIMIT inside
    the subquery over the GIN bitmap), and the pool is whatever passed among them.
    """
    vector = VECTORS.c.head if head else VECTORS.c.body
    tsq = tsquery(text)
    negated = head and has_negation(text)
    inner = select(VECTORS.c.user_id, vector.label("vec")).where(vector.op("@@")(tsq))
    if negated:  # see ``_sqlite_negated_heads``: the first POOL heads are checked
        inner = inner.add_columns(VECTORS.c.body.label("body"))
    scan = inner.limit(POOL if negated else SCAN).subquery("scan")
    # float8: ts_rank_cd is a float4, whose text form would not round-trip in the cursor.
    score = cast(func.ts_rank_cd(scan.c.vec, tsq, 1), DOUBLE_PRECISION)
    p = ExpertProfile
    # ``+ 0``: see ``_select``.
    stmt = select(scan.c.user_id, score).join(p, p.user_id == scan.c.user_id + 0)
    if negated:
        stmt = stmt.where(scan.c.body.op("@@")(tsq))
    for f in filters:
        stmt = stmt.where(f)
    rows = session.execute(stmt.limit(POOL)).all()
    # Whether more than SCAN matched is not known without counting (50 ms for a common word):
    # say "maybe", so a page the pools do not fill asks the rest tier, which returns only what
    # the pools left out (nothing when fewer than SCAN matched).
    return _scored(rows, head=head, exclude=exclude, full=True)


def rest(
    session: Session,
    *,
    fts_q: str | None,
    text: str,
    filters: Sequence[ColumnElement[bool]],
    exclude: frozenset[int],
    after_id: int | None,
    limit: int,
) -> list[int]:
    """Return the next ``limit`` user ids of the rest tier (matches outside the pools)."""
    dialect = session.get_bind().dialect.name
    stmt, uid = _select(dialect, fts_q, text, filters, head=False, scored=False)
    if exclude:
        stmt = stmt.where(uid.not_in(sorted(exclude)))
    if after_id is not None:
        stmt = stmt.where(uid > after_id)
    return [int(u) for u in session.scalars(stmt.order_by(uid).limit(limit))]
