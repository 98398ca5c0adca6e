"""Grow a matching benchmark database made by ``experts_profiles.py`` to ``--times`` its size by
copying its synthetic experts inside the database (SQL ``INSERT … SELECT`` with shifted ids), then
rebuild the full-text indexes and report their build time and size.

A shortcut for a loaded machine: the Python generator needs about 10 minutes per million profiles
on a quiet machine and over an hour when the cores are shared; copying takes minutes. The copies
have the same distributions (every word is in exactly ``--times`` as many documents), but
each expert's text exists ``--times`` times, so rankings have more ties (broken by user id).
The search documents are copied like the rest, so the index triggers of migrations 0011/0012 run
for every copied row; on PostgreSQL the GIN indexes are dropped first and made afterwards.

    .venv/bin/python bench/experts_replicate.py --times 10 \\
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/el_latency_1m
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import common
from experts_profiles import PG_GIN, settings_for, sizes
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from expertloop.db import make_engine

EXPERTS = "email LIKE 'expert%@bench.expertloop.invalid'"
# table: (its own id column or None, the column holding the user id)
TABLES: dict[str, tuple[str | None, str]] = {
    "users": ("id", "id"),
    "expert_profiles": (None, "user_id"),
    "expert_profile_domains": ("id", "user_id"),
    "expert_profile_languages": ("id", "user_id"),
    "expert_search_docs": (None, "user_id"),
}


def replicate(engine: Engine, times: int) -> dict[str, Any]:
    """Copy the synthetic experts ``times - 1`` times; return timings (s) and sizes (MB)."""
    dialect = engine.dialect.name
    out: dict[str, Any] = {}
    columns = {t: [c["name"] for c in inspect(engine).get_columns(t)] for t in TABLES}
    if dialect == "postgresql":
        # The generated tsvector of 0011 is gone after 0012; nothing else is generated.
        columns["expert_search_docs"] = [
            c for c in columns["expert_search_docs"] if c != "document"
        ]
    with engine.begin() as conn:
        low, high = conn.execute(text(f"SELECT min(id), max(id) FROM users WHERE {EXPERTS}")).one()
        stride = int(conn.execute(text("SELECT max(id) FROM users")).scalar() or 0)
        id_max = {
            t: int(conn.execute(text(f"SELECT coalesce(max({k}), 0) FROM {t}")).scalar() or 0)
            for t, (k, _) in TABLES.items()
            if k
        }
        if dialect == "postgresql":
            for index in PG_GIN:
                conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
    start = time.perf_counter()
    for copy in range(1, times):
        shift = copy * stride
        with engine.begin() as conn:
            for t, (key, user_col) in TABLES.items():
                if t == "expert_search_docs":
                    continue
                exprs = []
                for c in columns[t]:
                    if c == user_col:
                        exprs.append(f"{c} + {shift}")
                    elif c == key:
                        exprs.append(f"{c} + {copy * id_max[t]}")
                    elif c == "email":
                        exprs.append(f"'r{copy}.' || email")
                    else:
                        exprs.append(c)
                conn.execute(
                    text(
                        f"INSERT INTO {t} ({', '.join(columns[t])}) "
                        f"SELECT {', '.join(exprs)} FROM {t} "
                        f"WHERE {user_col} BETWEEN {low} AND {high}"
                    )
                )
        print(f"  copy {copy}: rows", flush=True)
    out["copy_rows_s"] = time.perf_counter() - start
    start = time.perf_counter()
    cols = columns["expert_search_docs"]
    for copy in range(1, times):
        shift = copy * stride
        exprs = [f"{c} + {shift}" if c == "user_id" else c for c in cols]
        with engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO expert_search_docs ({', '.join(cols)}) "
                    f"SELECT {', '.join(exprs)} FROM expert_search_docs "
                    f"WHERE user_id BETWEEN {low} AND {high}"
                )
            )
        print(f"  copy {copy}: documents", flush=True)
    out["documents_s"] = time.perf_counter() - start
    if dialect == "postgresql":
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
            for index, column in PG_GIN.items():
                conn.execute(
                    text(f"CREATE INDEX {index} ON expert_search_vectors USING gin ({column})")
                )
            for seq_table in ("users", "expert_profile_domains", "expert_profile_languages"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{seq_table}', 'id'), "
                        f"(SELECT max(id) FROM {seq_table}))"
                    )
                )
        out["gin_s"] = time.perf_counter() - start
        start = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
            for fts in ("expert_search_fts", "expert_search_head"):
                conn.execute(text(f"INSERT INTO {fts} ({fts}) VALUES ('optimize')"))
    out["analyze_optimize_s"] = time.perf_counter() - start
    with engine.connect() as conn:
        out["profiles"] = int(
            conn.execute(text("SELECT count(*) FROM expert_profiles")).scalar() or 0
        )
    out.update(sizes(engine))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--sqlite", default="", help="SQLite file made by experts_profiles.py")
    parser.add_argument("--pg", default="", help="PostgreSQL URL made by experts_profiles.py")
    parser.add_argument("--data-dir", default="/tmp/el-match-bench")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()
    print(common.machine_line())
    results: dict[str, Any] = {}
    for name, url in (
        ("sqlite", f"sqlite:///{args.sqlite}" if args.sqlite else ""),
        ("postgresql", args.pg),
    ):
        if url:
            engine = make_engine(settings_for(url, Path(args.data_dir)))
            results[name] = replicate(engine, args.times)
            engine.dispose()
    for name, figures in results.items():
        print(f"\n{name}:")
        for key, value in figures.items():
            print(f"  {key:>22}: {value:,.1f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
