"""Matching: operators search and rank experts by filters and full-text relevance.

The filters run on the profile columns and the domain and language rows; the free text runs on
the search index of ``search_index`` (SQLite FTS5 ranked by bm25, PostgreSQL
``websearch_to_tsquery`` ranked by ``ts_rank_cd``), in the bounded tiers of ``text_search``:
experts whose headline, domains or credentials match first, then those found in the résumé or
interview, each tier ranked within a pool of the first ``text_search.POOL`` matches, then any
further match by user id. Results are paged by keyset on (score, user id): an opaque cursor
carries the last row's pair and a fingerprint of the query, so each match comes exactly once
however deep one pages while the index does not change between pages: the pools are recomputed
for each page (on PostgreSQL the first matches in the table's physical order), so a profile saved
between two pages can move an expert in or out of a ranked pool and repeat or skip them. Without
free text every score is equal and the order is the order experts joined.

Each result says why it matched: the filter values it met, which fields the text was found in,
and a highlighted snippet (segments, never markup, so a page escapes all of it). Operators only;
anyone else is told the search does not exist. Results carry no contact data (email, phone).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    bindparam,
    exists,
    func,
    literal_column,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import NotFound, ValidationFailed
from expertloop.experts import policies, text_search
from expertloop.experts.models import (
    ExpertProfile,
    LanguageLevel,
    ProfileDomain,
    ProfileLanguage,
    VettingState,
)
from expertloop.experts.search_index import DOCS, FIELDS, FTS_TABLE
from expertloop.experts.search_index import expertise_label as _label

MAX_LIMIT = 100
LEVELS: tuple[LanguageLevel, ...] = tuple(LanguageLevel)  # A1 < … < C2 < native
FIELD_LABELS = {
    "headline": "headline",
    "expertise": "domains",
    "credentials": "credentials and education",
    "resume": "résumé",
    "interview": "interview",
}
# Highlight markers: control characters, which the text rule keeps out of every stored text.
START, STOP = "\x02", "\x03"


@dataclass(frozen=True)
class MatchQuery:
    """What an operator looks for. Rates are minor units of ``currency``; offsets in minutes."""

    text: str = ""
    domain: str | None = None
    specialty: str | None = None
    language: str | None = None
    min_level: LanguageLevel | None = None
    country: str | None = None
    utc_offset_min: int | None = None
    utc_offset_max: int | None = None
    min_weekly_hours: int | None = None
    rate_min: int | None = None
    rate_max: int | None = None
    currency: str | None = None
    states: tuple[VettingState, ...] = (VettingState.approved,)
    min_quality: float | None = None

    def fingerprint(self) -> str:
        """Return a short hash of the query (a cursor only pages the query it came from)."""
        data = asdict(self)
        data["states"] = sorted(s.value for s in self.states)
        raw = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Segment:
    """A piece of a snippet; ``match`` marks the words the search text found."""

    text: str
    match: bool


@dataclass(frozen=True)
class DomainLabel:
    """One of an expert's domains, with its specialty."""

    domain: str
    specialty: str
    label: str


@dataclass(frozen=True)
class Spoken:
    """A language an expert speaks, with its level."""

    language: str
    level: str


@dataclass
class MatchItem:
    """One expert in the results, with why they matched (no contact data)."""

    user_id: int
    name: str
    headline: str
    country: str
    time_zone: str
    utc_offset_minutes: int
    weekly_hours: int
    years_experience: int
    rate_minor: int | None
    rate_currency: str
    quality_score: float | None
    vetting_state: str
    score: float
    domains: list[DomainLabel] = field(default_factory=list)
    languages: list[Spoken] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    matched_in: list[str] = field(default_factory=list)
    snippet: list[Segment] = field(default_factory=list)


@dataclass
class MatchPage:
    """A page of results and the cursor of the next one (None on the last page)."""

    items: list[MatchItem]
    next_cursor: str | None
    limit: int


# -- free text --------------------------------------------------------------------------------

# PostgreSQL's English stop words are dropped by websearch_to_tsquery; drop them on SQLite too,
# so the same words find the same experts on both databases.
_STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such t than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with you your yours yourself yourselves""".split()  # noqa: SIM905 - a word list reads better
)
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")


def _phrase(words: list[str]) -> str:
    return '"' + " ".join(words) + '"'


def fts5_query(text: str) -> str | None:
    """Translate web-search syntax (words, "phrases", or, -word) into an FTS5 query string.

    Every word is quoted, so nothing typed is FTS5 syntax; None when no word is left.
    """
    groups: list[list[str]] = []  # OR-groups, ANDed together
    negatives: list[str] = []
    pending_or = False
    for match in _TOKEN.finditer(text):
        negative, phrase, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            if bare.lower() == "or":
                pending_or = bool(groups)
                continue
            negative = "-" if bare.startswith("-") else ""
            words = _WORD.findall(bare.lower())
        else:
            words = _WORD.findall((phrase or "").lower())
        if len(words) == 1 and words[0] in _STOP_WORDS:
            continue
        if not words:
            continue
        item = _phrase(words)
        if negative:
            negatives.append(item)
        elif pending_or and groups:
            groups[-1].append(item)
        else:
            groups.append([item])
        pending_or = False
    if not groups:
        return None
    parts = [g[0] if len(g) == 1 else "(" + " OR ".join(g) + ")" for g in groups]
    query = " AND ".join(parts)
    for item in negatives:
        query = f"({query}) NOT {item}"
    return query


# -- cursor -----------------------------------------------------------------------------------


def encode_cursor(score: float, user_id: int, query: MatchQuery) -> str:
    """Return the opaque cursor that continues after (score, user_id)."""
    raw = json.dumps([repr(float(score)), user_id, query.fingerprint()]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: MatchQuery) -> tuple[float, int]:
    """Return (score, user_id) from a cursor of this query; refuse any other."""
    bad = ValidationFailed(
        "This page link is not valid for this search; start the search again.",
        details={"field": "after"},
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score_text, user_id, fingerprint = json.loads(raw)
        score = float(score_text)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad from exc
    if fingerprint != query.fingerprint() or not isinstance(user_id, int):
        raise bad
    return score, user_id


# -- the search -------------------------------------------------------------------------------


def levels_from(level: LanguageLevel) -> list[LanguageLevel]:
    """Return ``level`` and every level above it."""
    return list(LEVELS[LEVELS.index(level) :])


def _filters(q: MatchQuery, *, sqlite: bool = False) -> list[ColumnElement[bool]]:
    p = ExpertProfile

    def ranged(col: Any) -> Any:
        # SQLite's planner takes an index on a range column over the covering index walked in
        # user order, then reads every wide row in the range and sorts; ``+ 0`` keeps it off.
        return col + 0 if sqlite else col

    out: list[ColumnElement[bool]] = []
    if q.states:
        out.append(p.vetting_state.in_(q.states))
    if q.domain:
        cond = [ProfileDomain.user_id == p.user_id, ProfileDomain.domain == q.domain]
        if q.specialty:
            cond.append(ProfileDomain.specialty == q.specialty)
        out.append(exists().where(*cond))
    if q.language:
        cond = [ProfileLanguage.user_id == p.user_id, ProfileLanguage.language == q.language]
        if q.min_level is not None and q.min_level != LEVELS[0]:
            cond.append(ProfileLanguage.level.in_(levels_from(q.min_level)))
        out.append(exists().where(*cond))
    if q.country:
        out.append(p.country == q.country)
    if q.utc_offset_min is not None:
        out.append(ranged(p.utc_offset_minutes) >= q.utc_offset_min)
    if q.utc_offset_max is not None:
        out.append(ranged(p.utc_offset_minutes) <= q.utc_offset_max)
    if q.min_weekly_hours is not None:
        out.append(ranged(p.weekly_hours) >= q.min_weekly_hours)
    if q.rate_min is not None or q.rate_max is not None:
        out.append(p.rate_currency == q.currency)
        if q.rate_min is not None:
            out.append(ranged(p.rate_minor) >= q.rate_min)
        if q.rate_max is not None:
            out.append(ranged(p.rate_minor) <= q.rate_max)
    if q.min_quality is not None:
        out.append(ranged(p.quality_score) >= q.min_quality)
    return out


def check_query(q: MatchQuery) -> None:
    """Raise ``ValidationFailed`` for a query that cannot mean anything."""
    if (q.rate_min is not None or q.rate_max is not None) and not q.currency:
        raise ValidationFailed(
            "Choose the currency of the rate range.", details={"field": "currency"}
        )
    if q.rate_min is not None and q.rate_max is not None and q.rate_min > q.rate_max:
        raise ValidationFailed(
            "The lowest rate is above the highest.", details={"field": "rate_min"}
        )
    if (
        q.utc_offset_min is not None
        and q.utc_offset_max is not None
        and q.utc_offset_min > q.utc_offset_max
    ):
        raise ValidationFailed(
            "The time-zone range starts after it ends.", details={"field": "utc_offset_min"}
        )
    if q.specialty and not q.domain:
        raise ValidationFailed("Choose the domain of the specialty.", details={"field": "domain"})
    if q.min_level is not None and not q.language:
        raise ValidationFailed(
            "Choose the language the level is for.", details={"field": "language"}
        )


def search(
    session: Session,
    actor: User,
    query: MatchQuery,
    after: str | None = None,
    limit: int = 20,
) -> MatchPage:
    """Return a page of the experts matching ``query``, best first, after the cursor ``after``."""
    if not policies.can_match(actor):
        raise NotFound("Page not found.")
    check_query(query)
    limit = max(1, min(limit, MAX_LIMIT))
    dialect = session.get_bind().dialect.name
    fts_q = fts5_query(query.text) if dialect == "sqlite" else None
    has_text = bool(fts_q) if dialect == "sqlite" else _has_words(session, query.text)
    filters = _filters(query, sqlite=dialect == "sqlite")
    position = decode_cursor(after, query) if after else None
    text_search.custom_plans(session)
    if has_text:
        found = _text_page(session, query, filters, fts_q, position, limit)
    else:
        found = _filter_page(session, filters, position, limit)
    more = len(found) > limit
    found = found[:limit]
    items = _describe(session, query, [(uid, float(sc)) for uid, sc in found], fts_q, has_text)
    next_cursor = encode_cursor(found[-1][1], found[-1][0], query) if more else None
    return MatchPage(items=items, next_cursor=next_cursor, limit=limit)


def _filter_page(
    session: Session,
    filters: list[ColumnElement[bool]],
    position: tuple[float, int] | None,
    limit: int,
) -> list[tuple[int, float]]:
    """Return up to ``limit + 1`` active experts passing ``filters`` in user order."""
    p = ExpertProfile
    stmt = select(p.user_id)
    for cond in filters:
        stmt = stmt.where(cond)
    last_id = position[1] if position is not None else None
    found: list[tuple[int, float]] = []
    # Deactivated accounts are dropped per batch rather than joined: a join to users for every
    # full-text match costs more than the whole ranking. They are rare, so one batch is the rule.
    for _ in range(_MAX_BATCHES):
        batch_stmt = stmt if last_id is None else stmt.where(p.user_id > last_id)
        batch = list(session.scalars(batch_stmt.order_by(p.user_id).limit(limit + 1)))
        if not batch:
            break
        active = _active(session, batch)
        found += [(uid, 0.0) for uid in batch if uid in active]
        last_id = batch[-1]
        if len(found) > limit or len(batch) <= limit:
            break
    return found


def _text_page(
    session: Session,
    query: MatchQuery,
    filters: list[ColumnElement[bool]],
    fts_q: str | None,
    position: tuple[float, int] | None,
    limit: int,
) -> list[tuple[int, float]]:
    """Return up to ``limit + 1`` active matches of the text after ``position``, best first."""
    found: list[tuple[int, float]] = []

    def take(scored: list[tuple[int, float]]) -> bool:
        if position is not None:
            last_score, last_id = position
            scored = [
                (uid, sc)
                for uid, sc in scored
                if sc < last_score or (sc == last_score and uid > last_id)
            ]
        for start in range(0, len(scored), limit + 1):
            batch = scored[start : start + limit + 1]
            active = _active(session, [uid for uid, _ in batch])
            found.extend(item for item in batch if item[0] in active)
            if len(found) > limit:
                return True
        return False

    args: dict[str, Any] = {"fts_q": fts_q, "text": query.text, "filters": filters}
    heads = text_search.pool(session, head=True, **args)
    if take(heads.scored):
        return found  # the page is full of head matches: the body tier is not needed
    head_ids = frozenset(uid for uid, _ in heads.scored)
    bodies = text_search.pool(session, head=False, exclude=head_ids, **args)
    if take(bodies.scored) or not bodies.full:
        return found
    # The rest tier (score 0, by user id): matches beyond the ranked pools.
    after_id = position[1] if position is not None and position[0] < text_search.BODY_TIER else None
    for _ in range(_MAX_BATCHES):
        ids = text_search.rest(
            session,
            fts_q=fts_q,
            text=query.text,
            filters=filters,
            exclude=head_ids | {uid for uid, _ in bodies.scored},
            after_id=after_id,
            limit=limit + 1,
        )
        if not ids:
            break
        active = _active(session, ids)
        found += [(uid, 0.0) for uid in ids if uid in active]
        after_id = ids[-1]
        if len(found) > limit or len(ids) <= limit:
            break
    return found


_MAX_BATCHES = 20


def _active(session: Session, user_ids: list[int]) -> set[int]:
    rows = session.scalars(select(User.id).where(User.id.in_(user_ids), User.is_active.is_(True)))
    return set(rows)


_tsquery = text_search.tsquery


def _has_words(session: Session, text: str) -> bool:
    if not text.strip():
        return False
    # Only stop words or punctuation make an empty tsquery, which would match nothing.
    value = session.scalar(select(func.numnode(_tsquery(text))))
    return bool(value)


# -- why it matched ---------------------------------------------------------------------------


def _segments(marked: str) -> list[Segment]:
    out: list[Segment] = []
    for i, part in enumerate(re.split(f"[{START}{STOP}]", marked)):
        if part:
            out.append(Segment(text=part, match=i % 2 == 1))
    return out


def _snippets(
    session: Session, ids: list[int], fts_q: str | None, text: str
) -> dict[int, dict[str, str]]:
    if not ids:
        return {}
    out: dict[int, dict[str, str]] = {}
    if fts_q is not None:
        cols = ", ".join(f"snippet({FTS_TABLE}, {i}, :a, :b, '…', 16)" for i in range(len(FIELDS)))
        marks = ", ".join(str(int(i)) for i in ids)
        rows = session.execute(
            sql_text(
                f"SELECT rowid, {cols} FROM {FTS_TABLE} "  # noqa: S608 - ints and constants
                f"WHERE {FTS_TABLE} MATCH :q AND rowid IN ({marks})"
            ),
            {"q": fts_q, "a": START, "b": STOP},
        ).all()
        for row in rows:
            out[row[0]] = {f: row[i + 1] or "" for i, f in enumerate(FIELDS)}
        return out
    options = (
        f'StartSel="{START}", StopSel="{STOP}", MaxWords=24, MinWords=10, '
        'MaxFragments=2, FragmentDelimiter=" … "'
    )
    tsq = _tsquery(text)
    heads = [
        func.ts_headline(
            literal_column("'english'::regconfig"), DOCS.c[f], tsq, bindparam("opts", options)
        )
        for f in FIELDS
    ]
    for row in session.execute(select(DOCS.c.user_id, *heads).where(DOCS.c.user_id.in_(ids))):
        out[row[0]] = {f: row[i + 1] or "" for i, f in enumerate(FIELDS)}
    return out


def _money(minor: int, currency: str) -> str:
    return f"{minor / 100:,.2f} {currency}"


def _offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{sign}{h:02d}:{m:02d}"


def _describe(
    session: Session,
    q: MatchQuery,
    scored: Sequence[tuple[int, float]],
    fts_q: str | None,
    has_text: bool,
) -> list[MatchItem]:
    ids = [uid for uid, _ in scored]
    if not ids:
        return []
    p = ExpertProfile
    rows = {
        r.user_id: r
        for r in session.execute(
            select(
                p.user_id,
                User.name,
                p.headline,
                p.country,
                p.time_zone,
                p.utc_offset_minutes,
                p.weekly_hours,
                p.years_experience,
                p.rate_minor,
                p.rate_currency,
                p.quality_score,
                p.vetting_state,
            )
            .join(User, User.id == p.user_id)
            .where(p.user_id.in_(ids))
        )
    }
    domains: dict[int, list[DomainLabel]] = {}
    for uid, domain, specialty in session.execute(
        select(ProfileDomain.user_id, ProfileDomain.domain, ProfileDomain.specialty)
        .where(ProfileDomain.user_id.in_(ids))
        .order_by(ProfileDomain.id)
    ):
        domains.setdefault(uid, []).append(
            DomainLabel(domain=domain, specialty=specialty, label=_label(domain, specialty))
        )
    languages: dict[int, list[Spoken]] = {}
    for uid, language, level in session.execute(
        select(ProfileLanguage.user_id, ProfileLanguage.language, ProfileLanguage.level)
        .where(ProfileLanguage.user_id.in_(ids))
        .order_by(ProfileLanguage.id)
    ):
        languages.setdefault(uid, []).append(Spoken(language=language, level=level.value))
    snippets = _snippets(session, ids, fts_q, q.text) if has_text else {}
    items = []
    for uid, score in scored:
        r = rows[uid]
        item = MatchItem(
            user_id=uid,
            name=r.name,
            headline=r.headline,
            country=r.country,
            time_zone=r.time_zone,
            utc_offset_minutes=r.utc_offset_minutes,
            weekly_hours=r.weekly_hours,
            years_experience=r.years_experience,
            rate_minor=r.rate_minor,
            rate_currency=r.rate_currency,
            quality_score=r.quality_score,
            vetting_state=r.vetting_state.value,
            score=score,
            domains=domains.get(uid, []),
            languages=languages.get(uid, []),
        )
        item.why = _why(q, item)
        if has_text:
            _text_reason(item, snippets.get(uid, {}))
        items.append(item)
    return items


def _why(q: MatchQuery, item: MatchItem) -> list[str]:
    why: list[str] = []
    if q.domain:
        hits = [
            d.label
            for d in item.domains
            if d.domain == q.domain and (not q.specialty or d.specialty == q.specialty)
        ]
        why.append("Works in " + ", ".join(hits or [_label(q.domain, q.specialty or "")]))
    if q.language:
        level = next((s.level for s in item.languages if s.language == q.language), "")
        wanted = f", at least {q.min_level.value}" if q.min_level else ""
        why.append(f"Speaks {q.language} ({level}{wanted})")
    if q.country:
        why.append(f"Lives in {item.country}")
    if q.utc_offset_min is not None or q.utc_offset_max is not None:
        low = _offset(q.utc_offset_min) if q.utc_offset_min is not None else "any"
        high = _offset(q.utc_offset_max) if q.utc_offset_max is not None else "any"
        zone = f" ({item.time_zone})" if item.time_zone else ""
        why.append(f"Time zone {_offset(item.utc_offset_minutes)}{zone}, within {low} … {high}")
    if q.min_weekly_hours is not None:
        why.append(f"{item.weekly_hours} hours a week (wanted {q.min_weekly_hours} or more)")
    if (q.rate_min is not None or q.rate_max is not None) and item.rate_minor is not None:
        cur = q.currency or item.rate_currency
        low = _money(q.rate_min, cur) if q.rate_min is not None else "any"
        high = _money(q.rate_max, cur) if q.rate_max is not None else "any"
        why.append(
            f"Rate {_money(item.rate_minor, item.rate_currency)} an hour, within {low} … {high}"
        )
    if q.min_quality is not None and item.quality_score is not None:
        why.append(f"Quality score {item.quality_score:.2f} (wanted {q.min_quality:.2f} or more)")
    if q.states:
        why.append(f"Vetting: {item.vetting_state.replace('_', ' ')}")
    return why


def _text_reason(item: MatchItem, fields: dict[str, str]) -> None:
    counts = {f: fields.get(f, "").count(START) for f in FIELDS}
    item.matched_in = [FIELD_LABELS[f] for f in FIELDS if counts[f]]
    best = max(FIELDS, key=lambda f: counts[f])  # ties: the first field (headline) wins
    if counts[best]:
        item.snippet = _segments(fields[best])
        item.why.insert(0, "The search text is in the " + ", ".join(item.matched_in))
    else:
        # Matched through stemming the highlighter did not mark: still say so.
        item.why.insert(0, "Matches the search text")
