"""Matching latency: run a fixed set of searches (filters, free text, both, a second page) through
``expertloop.experts.matching.search`` on databases made by ``experts_profiles.py`` and print
p50 / p95 / p99 per query and over all of them, per database.

Each query runs ``--warmup`` times untimed, then ``--runs`` times timed, in rounds (every query
once per round) so drift of the machine hits them alike. A timing is the whole call as the API
makes it: the ranked, filtered, keyset-paged query of 20 rows, then the page's names, domains,
languages and snippets.

    .venv/bin/python bench/experts_matching.py --sqlite /tmp/el-match/bench.sqlite3 \\
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/el_match_bench --runs 30
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import common
from experts_profiles import settings_for
from sqlalchemy import select
from sqlalchemy import text as sa_text

from expertloop.accounts.models import OrganisationKind, Role, User
from expertloop.db import make_engine, make_session_factory, read_transaction, transaction
from expertloop.experts import matching
from expertloop.experts.matching import MatchQuery
from expertloop.experts.models import LanguageLevel, VettingState

ALL_STATES = tuple(VettingState)
QUERIES: dict[str, MatchQuery] = {
    "text: kubernetes": MatchQuery(text="kubernetes"),
    "text: patients (very common)": MatchQuery(text="patients"),
    "text + domain: cardiology, medicine": MatchQuery(text="cardiology", domain="medicine"),
    "text + country: valuation derivatives, US": MatchQuery(
        text="valuation derivatives", country="US"
    ),
    "text + quality: clinical trials, q>=0.8": MatchQuery(text="clinical trials", min_quality=0.8),
    "text + tz: litigation, UTC-6..-3": MatchQuery(
        text="litigation", utc_offset_min=-360, utc_offset_max=-180
    ),
    'text syntax: "supply chain" -marketing': MatchQuery(text='"supply chain" -marketing'),
    "text + lang + country: python postgres, en>=C1, IN": MatchQuery(
        text="python postgres", language="en", min_level=LanguageLevel.c1, country="IN"
    ),
    "text + any state: audit": MatchQuery(text="audit", states=ALL_STATES),
    "filters: law/tax_law, de": MatchQuery(domain="law", specialty="tax_law", language="de"),
    "filters: finance, fr>=C1": MatchQuery(
        domain="finance", language="fr", min_level=LanguageLevel.c1
    ),
    "filters: software, 50-90 USD, >=20 h": MatchQuery(
        domain="software", rate_min=5000, rate_max=9000, currency="USD", min_weekly_hours=20
    ),
    "filters: JP, electrical engineering": MatchQuery(
        country="JP", domain="electrical_engineering"
    ),
    "filters: everything at once": MatchQuery(
        domain="medicine",
        language="en",
        min_level=LanguageLevel.b2,
        utc_offset_min=-300,
        utc_offset_max=120,
        min_weekly_hours=15,
        rate_min=5000,
        rate_max=30000,
        currency="USD",
        min_quality=0.6,
    ),
}
PAGE_2 = "page 2 of: kubernetes"


def operator(factory: Any) -> User:
    """Return the benchmark's operator (made once)."""
    from expertloop.accounts import users as users_uc

    with transaction(factory) as db:
        user = db.scalar(select(User).where(User.email == "operator@bench.expertloop.invalid"))
        if user is None:
            org = users_uc.operator_organisation(session=db) or users_uc.create_organisation(
                session=db, name="Bench operators", kind=OrganisationKind.operator
            )
            user = User(
                organisation_id=org.id,
                email="operator@bench.expertloop.invalid",
                name="Bench Operator",
                role=Role.operator,
                password_hash="!bench-no-login",
            )
            db.add(user)
            db.flush()
        db.expunge(user)
        return user


def text_matches(factory: Any, text: str, *, head: bool = False) -> int | None:
    """Return how many documents (or heads) the free text alone matches, untimed."""
    if not text:
        return None
    with read_transaction(factory) as db:
        if db.get_bind().dialect.name == "sqlite":
            q = matching.fts5_query(text)
            fts = "expert_search_head" if head else "expert_search_fts"
            sql = f"SELECT count(*) FROM {fts} WHERE {fts} MATCH :q"
        else:
            q = text
            vector = "head" if head else "body"
            sql = (
                "SELECT count(*) FROM expert_search_vectors "
                f"WHERE {vector} @@ websearch_to_tsquery('english', :q)"
            )
        return int(db.execute(sa_text(sql), {"q": q}).scalar() or 0)


def bench(url: str, runs: int, warmup: int, data_dir: Path) -> dict[str, Any]:
    """Time every query on the database at ``url``."""
    engine = make_engine(settings_for(url, data_dir))
    factory = make_session_factory(engine)
    actor = operator(factory)
    with read_transaction(factory) as db:
        first = matching.search(db, actor, QUERIES["text: kubernetes"])
    cursor = first.next_cursor
    cases: dict[str, tuple[MatchQuery, str | None]] = {k: (q, None) for k, q in QUERIES.items()}
    cases[PAGE_2] = (QUERIES["text: kubernetes"], cursor)
    times: dict[str, list[float]] = {k: [] for k in cases}
    matches = {k: text_matches(factory, q.text) for k, (q, _) in cases.items()}
    heads = {k: text_matches(factory, q.text, head=True) for k, (q, _) in cases.items()}
    found: dict[str, int] = {}
    for i in range(warmup + runs):
        for name, (q, after) in cases.items():
            with read_transaction(factory) as db:
                start = time.perf_counter()
                page = matching.search(db, actor, q, after=after, limit=20)
                elapsed = time.perf_counter() - start
            found[name] = len(page.items)
            if i >= warmup:
                times[name].append(elapsed * 1000)
    engine.dispose()
    out: dict[str, Any] = {}
    every: list[float] = []
    for name, values in times.items():
        values.sort()
        every += values
        out[name] = {
            "rows": found[name],
            "text_matches": matches[name],
            "head_matches": heads[name],
            "p50": common.percentile(values, 50),
            "p95": common.percentile(values, 95),
            "p99": common.percentile(values, 99),
        }
    every.sort()
    out["ALL"] = {
        "rows": sum(found.values()),
        "text_matches": None,
        "head_matches": None,
        "p50": common.percentile(every, 50),
        "p95": common.percentile(every, 95),
        "p99": common.percentile(every, 99),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", default="", help="SQLite file made by experts_profiles.py")
    parser.add_argument("--pg", default="", help="PostgreSQL URL made by experts_profiles.py")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--data-dir", default="/tmp/el-match-bench")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()
    print(common.machine_line())
    results: dict[str, Any] = {}
    if args.sqlite:
        results["sqlite"] = bench(f"sqlite:///{args.sqlite}", args.runs, args.warmup,
                                  Path(args.data_dir))  # fmt: skip
    if args.pg:
        results["postgresql"] = bench(args.pg, args.runs, args.warmup, Path(args.data_dir))
    for db_name, rows in results.items():
        print(f"\n{db_name}  ({args.runs} timed runs per query; ms)")
        print(f"  {'query':<52} {'text matches':>12} {'in heads':>9} "
              f"{'p50':>8} {'p95':>8} {'p99':>8}")  # fmt: skip
        for name, r in rows.items():
            n = f"{r['text_matches']:,}" if r["text_matches"] is not None else "-"
            h = f"{r['head_matches']:,}" if r["head_matches"] is not None else "-"
            print(f"  {name:<52} {n:>12} {h:>9} "
                  f"{r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f}")  # fmt: skip
        goal = rows["ALL"]["p95"]
        print(f"  goal p95 < 100 ms over all queries: {goal:.1f} ms "
              f"({'met' if goal < 100 else 'not met'})")  # fmt: skip
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
