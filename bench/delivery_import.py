"""Import N seed items through the real HTTP route on a real server, against the raw SQLite ceiling.

The file is JSONL with Label Studio's benchmark records (``ls_bench.py make_task``: ``prompt``
~55 characters, ``response`` 30-49 words), one item a line. The server is
``expertloop serve --with-worker`` (uvicorn, one process, job worker threads inside it) with
SQLite in a temporary data directory. Measured:

* **end to end**: from the start of ``POST /api/v1/projects/{id}/imports`` (the file as the raw
  body) to the job's ``finished_at``: items/s. Also the upload alone (to the 202) and the import
  job alone (the handler's time, the job's ``started_at`` to ``finished_at``: it checks every
  line, then inserts every seed in one transaction).
* **raw ceiling**, in the same run, after the server stopped: plain ``sqlite3`` ``executemany``
  of the very rows the app stored into a table of the same shape (the ``seeds`` DDL with its
  indexes, renamed, in the same database file), the app's pragmas, one transaction. Twice: the
  insert of prepared rows alone, and reading + ``json.loads`` of the same file + the insert.

Prints both, the ratio, and with ``--ls-results`` the ratio to Label Studio's import figure
(``import.tasks_per_s`` of the same N in ``/tmp/lsbench-run/results-latest.json``).

    .venv/bin/python bench/delivery_import.py --items 2000        # ~20 s
    .venv/bin/python bench/delivery_import.py --items 100000      # ~1-2 min
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import delivery_data
from delivery_common import RssSampler, Server, client, job_seconds, log, mb, wait_job

# ls_bench.py's make_task, verbatim in behaviour (same topics, words and random stream).
TOPICS = delivery_data.TOPICS
WORDS = delivery_data.WORDS


def make_task(i: int, rng: random.Random) -> dict[str, str]:
    """Return Label Studio benchmark task ``i`` (``ls_bench.py make_task``)."""
    topic = TOPICS[i % len(TOPICS)]
    resp = " ".join(rng.choice(WORDS) for _ in range(30 + i % 20))
    return {
        "prompt": f"Q{i}: In two sentences, explain a key idea of {topic}.",
        "response": f"A{i}: {resp}.",
    }


def write_jsonl(path: Path, n: int) -> int:
    """Write ``n`` tasks as JSONL (the same random stream as ls_bench for this N); return bytes."""
    rng = random.Random(n)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps(make_task(i, rng), ensure_ascii=False) + "\n")
    return path.stat().st_size


def _utc(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def import_over_http(data_dir: Path, world: delivery_data.World, path: Path, n: int) -> dict:
    """Upload the file to a fresh server and follow the import job to its end."""
    body = path.read_bytes()  # read before timing: the client's disk is not what is measured
    with Server(data_dir) as server, RssSampler(server.pid) as rss:
        with client(server.base_url, world.client_token) as http:
            wall0 = dt.datetime.now(dt.UTC)
            t0 = time.perf_counter()
            r = http.post(
                f"/api/v1/projects/{world.project_id}/imports",
                params={"filename": "bench.jsonl", "format": "jsonl"},
                content=body,
                headers={"Content-Type": "application/octet-stream"},
            )
            upload_s = time.perf_counter() - t0
            if r.status_code != 202:
                raise SystemExit(f"import answered {r.status_code}: {r.text[:500]}")
            out = r.json()
            polls: dict[str, Any] = {}
            job = wait_job(http, out["job_id"], timeout=3600, stats=polls)
            seen_s = time.perf_counter() - t0
            imp = http.get(f"/api/v1/imports/{out['id']}").raise_for_status().json()
        hwm = rss.hwm_kb()
    if job["status"] != "done" or imp["rows_imported"] != n:
        raise SystemExit(f"import did not finish well: job {job}, import {imp}")
    end_to_end = (_utc(job["finished_at"]) - wall0).total_seconds()
    handler = job_seconds(job) or float("nan")
    queued = (_utc(job["started_at"]) - _utc(job["created_at"])).total_seconds()
    return {
        "items": n,
        "bytes": len(body),
        "upload_s": round(upload_s, 3),
        "queue_wait_s": round(queued, 3),
        "job_s": round(handler, 3),
        "end_to_end_s": round(end_to_end, 3),
        "seen_done_s": round(seen_s, 3),
        "items_per_s": round(n / end_to_end, 1),
        "job_items_per_s": round(n / handler, 1),
        "server_peak_rss_mb": round(mb(rss.peak_kb), 1),
        "server_vmhwm_mb": round(mb(hwm), 1),
        "job_polls": polls,
    }


def raw_ceiling(db_path: Path, jsonl: Path, n: int) -> dict:
    """Insert the app's stored seed rows again with plain sqlite3, one transaction."""
    db = sqlite3.connect(db_path, isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "busy_timeout=5000",
        "synchronous=NORMAL",
    ):
        db.execute(f"PRAGMA {pragma}")
    ddl = [
        sql
        for (sql,) in db.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'seeds' AND sql IS NOT NULL "
            "ORDER BY type = 'table' DESC"
        )
    ]
    cols = [r[1] for r in db.execute("PRAGMA table_info(seeds)")]
    select_cols = ", ".join(c for c in cols if c != "id")
    rows = list(db.execute(f"SELECT {select_cols} FROM seeds ORDER BY id"))
    if len(rows) != n:
        raise SystemExit(f"expected {n} seeds, found {len(rows)}")
    line_col = cols.index("line") - 1
    title_col = cols.index("title") - 1
    prompts_col = cols.index("prompts") - 1
    extra_col = cols.index("extra") - 1
    template = list(rows[0])
    # Serialise JSON as the app stored it (compact or not), so the rows are the same rows.
    sample = json.loads(template[extra_col])
    compact = json.dumps(sample, ensure_ascii=False, separators=(",", ":")) == template[extra_col]
    seps = (",", ":") if compact else (", ", ": ")
    marks = ", ".join("?" * (len(cols) - 1))
    out: dict[str, Any] = {}
    spaces = re.compile(r"\s+")
    for variant in ("insert", "parse_insert"):
        db.execute("DROP TABLE IF EXISTS bench_seeds")
        for sql in ddl:  # the seeds table and its indexes, renamed
            sql = re.sub(r"\bseeds\b", "bench_seeds", sql, count=2)
            sql = re.sub(r"\b(ix|uq|pk|fk)_seeds_", r"\1_bench_seeds_", sql)
            db.execute(sql)
        insert = f"INSERT INTO bench_seeds ({select_cols}) VALUES ({marks})"
        if variant == "insert":
            t0 = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert, rows)
            db.execute("COMMIT")
        else:
            t0 = time.perf_counter()
            batch = []
            with jsonl.open(encoding="utf-8") as f:
                for line_no, line in enumerate(f, 1):
                    rec = json.loads(line)
                    row = template.copy()
                    prompt = rec["prompt"]
                    row[line_col] = line_no
                    row[title_col] = spaces.sub(" ", prompt).strip()[:80]
                    row[prompts_col] = json.dumps([prompt], ensure_ascii=False, separators=seps)
                    row[extra_col] = json.dumps(
                        {"response": rec["response"]}, ensure_ascii=False, separators=seps
                    )
                    batch.append(row)
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert, batch)
            db.execute("COMMIT")
        seconds = time.perf_counter() - t0
        count = db.execute("SELECT count(*) FROM bench_seeds").fetchone()[0]
        if count != n:
            raise SystemExit(f"raw ceiling inserted {count}, expected {n}")
        out[variant] = {"seconds": round(seconds, 3), "items_per_s": round(n / seconds, 1)}
    same = db.execute(
        f"SELECT count(*) FROM (SELECT {select_cols} FROM seeds EXCEPT "
        f"SELECT {select_cols} FROM bench_seeds)"
    ).fetchone()[0]
    out["parse_insert"]["rows_differing_from_app"] = same
    db.execute("DROP TABLE bench_seeds")
    db.close()
    return out


def ls_import(path: Path, n: int) -> float | None:
    """Label Studio's import tasks/s for ``n`` items from its results file, if there."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    size = data.get("sizes", {}).get(str(n)) or {}
    value = size.get("import", {}).get("tasks_per_s")
    return float(value) if value else None


def run(n: int, keep: Path | None = None, ls_results: Path | None = None) -> dict:
    """Run the whole benchmark for ``n`` items; return its figures."""
    tmp = Path(tempfile.mkdtemp(prefix="el-bench-import-"))
    try:
        data_dir = tmp / "data"
        log(f"import: making the project in {data_dir}")
        world = delivery_data.make(data_dir, 1, log=lambda m: None)
        jsonl = tmp / "bench.jsonl"
        size = write_jsonl(jsonl, n)
        log(f"import: {n:,} items, {size / 2**20:.1f} MB of JSONL; uploading")
        http = import_over_http(data_dir, world, jsonl, n)
        log(f"import: done in {http['end_to_end_s']} s; raw ceiling next")
        raw = raw_ceiling(data_dir / "expertloop.sqlite3", jsonl, n)
        result = {"items": n, "http": http, "raw": raw}
        ls = ls_import(ls_results, n) if ls_results else None
        result["label_studio_items_per_s"] = ls
        return result
    finally:
        if keep:
            shutil.copytree(tmp, keep, dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _row(label: str, seconds: float, rate: float | None = None, note: str = "") -> None:
    tail = f"   {rate:>10,.0f} items/s" if rate is not None else ""
    print(f"  {label:<38}{seconds:>9.2f} s{tail}{note}")


def report(res: dict) -> None:
    """Print the figures of one run."""
    h, raw, n = res["http"], res["raw"], res["items"]
    ceiling = raw["insert"]["items_per_s"]
    pi = raw["parse_insert"]
    print(f"\nimport of {n:,} items ({h['bytes'] / 2**20:.1f} MB JSONL), SQLite, one server")
    _row("upload to 202", h["upload_s"])
    _row("waiting in the queue", h["queue_wait_s"])
    _row("import job (check all, insert all)", h["job_s"], h["job_items_per_s"])
    _row("end to end (upload to job done)", h["end_to_end_s"], h["items_per_s"])
    print(
        f"  server peak RSS: {h['server_peak_rss_mb']:.1f} MB sampled, "
        f"{h['server_vmhwm_mb']:.1f} MB VmHWM"
    )
    polls = h.get("job_polls", {})
    print(
        f"  job status polls (every 0.2 s) meanwhile: {polls.get('polls')}, slowest"
        f" {polls.get('slowest_s')} s, failed {polls.get('failed')} {polls.get('errors') or ''}"
    )
    _row("raw sqlite3 insert (prepared rows)", raw["insert"]["seconds"], ceiling)
    _row(
        "raw json.loads + insert",
        pi["seconds"],
        pi["items_per_s"],
        f"   (rows unlike the app's: {pi['rows_differing_from_app']})",
    )
    print(
        f"  ExpertLoop end to end / raw insert ceiling: {h['items_per_s'] / ceiling:.1%}"
        f"   (job alone: {h['job_items_per_s'] / ceiling:.1%};"
        f" end to end / json.loads + insert: {h['items_per_s'] / pi['items_per_s']:.1%})"
    )
    ls = res.get("label_studio_items_per_s")
    if ls:
        ratio = h["items_per_s"] / ls
        met = "met" if ratio >= 5 else "NOT met"
        print(
            f"  Label Studio (same run) {ls:,.0f} items/s; "
            f"ExpertLoop / Label Studio: {ratio:.2f}x   goal >= 5x: {met}"
        )
    else:
        print("  Label Studio: no figure for this N in the results file (not run here)")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--items", type=int, default=100_000, help="items to import (100000)")
    p.add_argument(
        "--ls-results",
        type=Path,
        default=None,
        help="Label Studio results JSON of the same run (for the ratio)",
    )
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    p.add_argument("--keep", type=Path, default=None, help="copy the temp dir here (debugging)")
    a = p.parse_args()
    print(f"delivery_import: {common.machine_line()}")
    res = run(a.items, a.keep, a.ls_results)
    report(res)
    if a.out:
        a.out.write_text(json.dumps(res, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
