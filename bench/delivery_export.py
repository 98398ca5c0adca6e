"""Export N accepted items: the live export route over HTTP, the snapshot build job, and the raw
SQLite -> JSONL ceiling, all in the same run on the same data.

Data: ``delivery_data.py`` (one item = one step of an accepted problem set with a run, an
annotation, rubric results and an ideal answer; record sizes as Label Studio's benchmark). The
server is ``expertloop serve --with-worker`` (uvicorn, one process, job worker threads inside),
SQLite, a data directory of its own. Per N:

* **live export**: ``GET /api/v1/projects/{id}/export?format=openai-sft`` read to the end with
  httpx (streamed): records/s, time to the response head and to the first body byte, and the
  server's peak RSS (the process tree's VmRSS summed every 0.2 s, as ``ls_bench.py`` does; plus
  VmHWM after resetting it just before the request).
* **raw ceiling**: plain ``sqlite3``: one SELECT joining the columns an ``openai-sft`` record is
  made of (problem set context, step, its revision's prompt, the ideal answer), ``json.dumps``
  of the same record, written to a file. Its output is compared byte for byte with the live
  export's. Run before and after the live export; the faster counts.
* **snapshot job**: ``POST /api/v1/projects/{id}/snapshots`` then the job to ``done`` (every
  format, JSONL and Parquet, train and test): items/s and rows/s from the job's own start and
  finish times, rows per format, and the server's peak RSS meanwhile (the worker runs in it).
* **per format** (in-process, on the first ``--per-format-items`` items): the read model alone,
  then each format's ``rows()`` + JSON line + JSONL and Parquet writing: records/s each.

Goals printed: live export >= 50 % of the raw ceiling; first byte < 1 s; peak memory flat (the
largest N within 1.2x of the smallest).

    .venv/bin/python bench/delivery_export.py --sizes 2000              # ~1 min
    .venv/bin/python bench/delivery_export.py --sizes 100000,1000000    # long: see bench/README.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import common
import delivery_data
from delivery_common import (
    RssSampler,
    Server,
    client,
    job_seconds,
    log,
    mb,
    proc_kb,
    reset_hwm,
    wait_job,
)

from expertloop.datasets.formats import FORMATS, FormatContext
from expertloop.datasets.writers import PairWriter
from expertloop.db import make_engine, make_session_factory, read_transaction, upgrade
from expertloop.workbench import lineage

FORMAT = "openai-sft"

# The columns of an openai-sft record of a plain (not chained) step, newest revision.
CEILING_SQL = """
SELECT ps.context, r.prompt, ia.text
FROM problem_sets ps
JOIN steps s ON s.problem_set_id = ps.id
JOIN step_revisions r ON r.step_id = s.id
  AND r.number = (SELECT max(number) FROM step_revisions WHERE step_id = s.id)
JOIN ideal_answers ia ON ia.step_id = s.id
WHERE ps.project_id = ? AND ps.status = 'accepted'
ORDER BY ps.id, s.position
"""


def raw_ceiling(db_path: Path, project_id: int, out: Path) -> dict[str, Any]:
    """SELECT the columns, json.dumps the record, write the file: the floor of any export."""
    t0 = time.perf_counter()
    db = sqlite3.connect(db_path)
    for pragma in delivery_data.PRAGMAS:
        db.execute(f"PRAGMA {pragma}")
    n = 0
    digest = hashlib.sha256()
    with out.open("wb") as f:
        for context, prompt, ideal in db.execute(CEILING_SQL, (project_id,)):
            content = f"Context:\n{context.strip()}\n\n{prompt}" if context.strip() else prompt
            record = {
                "messages": [
                    {"role": "user", "content": content},
                    {"role": "assistant", "content": ideal},
                ]
            }
            line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            f.write(line)
            digest.update(line)
            n += 1
    db.close()
    seconds = time.perf_counter() - t0
    return {
        "records": n,
        "seconds": round(seconds, 3),
        "records_per_s": round(n / seconds, 1),
        "bytes": out.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def live_export(server: Server, world: delivery_data.World, fmt: str) -> dict[str, Any]:
    """Read the live export to its end over HTTP, sampling the server's memory."""
    reset_hwm(server.pid)
    digest = hashlib.sha256()
    size = lines = 0
    first_byte: float | None = None
    with RssSampler(server.pid) as rss, client(server.base_url, world.client_token) as http:
        t0 = time.perf_counter()
        path = f"/api/v1/projects/{world.project_id}/export"
        with http.stream("GET", path, params={"format": fmt}) as r:
            head = time.perf_counter() - t0
            if r.status_code != 200:
                raise SystemExit(f"live export answered {r.status_code}: {r.read()[:500]!r}")
            for chunk in r.iter_raw(1 << 16):
                if first_byte is None and chunk:
                    first_byte = time.perf_counter() - t0
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
        seconds = time.perf_counter() - t0
        hwm = proc_kb(server.pid, "VmHWM")
    return {
        "format": fmt,
        "records": lines,
        "bytes": size,
        "sha256": digest.hexdigest(),
        "seconds": round(seconds, 3),
        "records_per_s": round(lines / seconds, 1),
        "head_s": round(head, 4),
        "first_byte_s": round(first_byte if first_byte is not None else seconds, 4),
        "peak_rss_mb": round(mb(rss.peak_kb), 1),
        "vmhwm_mb": round(mb(hwm), 1),
    }


def snapshot_job(server: Server, world: delivery_data.World, timeout: float) -> dict[str, Any]:
    """Build a snapshot through the API and its job; rows per format from its counts."""
    reset_hwm(server.pid)
    with RssSampler(server.pid) as rss, client(server.base_url, world.client_token) as http:
        r = http.post(
            f"/api/v1/projects/{world.project_id}/snapshots",
            json={"filters": {}, "test_fraction": 0.1},
        )
        if r.status_code != 202:
            raise SystemExit(f"snapshot create answered {r.status_code}: {r.text[:500]}")
        job = wait_job(http, r.json()["job_id"], timeout=timeout, poll=0.5)
        snap = http.get(f"/api/v1/snapshots/{r.json()['id']}").json()
        hwm = proc_kb(server.pid, "VmHWM")
    if job["status"] != "done" or snap["status"] != "ready":
        raise SystemExit(f"snapshot job ended {job['status']}: {job['error']}")
    seconds = job_seconds(job) or float("nan")
    rows = {name: sum(by_split.values()) for name, by_split in snap["counts"]["rows"].items()}
    return {
        "seconds": round(seconds, 3),
        "items": snap["counts"]["steps"],
        "items_per_s": round(snap["counts"]["steps"] / seconds, 1),
        "rows": rows,
        "rows_per_s": round(sum(rows.values()) / seconds, 1),
        "total_bytes": snap["total_bytes"],
        "peak_rss_mb": round(mb(rss.peak_kb), 1),
        "vmhwm_mb": round(mb(hwm), 1),
        "snapshot_id": snap["id"],
    }


def per_format(data_dir: Path, world: delivery_data.World, limit: int) -> dict[str, Any]:
    """In-process: the read model alone, then each format's rows + writers on the same sets."""
    settings = delivery_data.bench_settings(data_dir)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    sets = max(1, limit // world.steps_per_set)
    with read_transaction(factory) as session:
        t0 = time.perf_counter()
        stream = lineage.accepted(session=session, project_id=world.project_id)
        problem_sets = [ps for _i, ps in zip(range(sets), stream, strict=False)]
        read_s = time.perf_counter() - t0
    engine.dispose()
    items = sum(len(ps.steps) for ps in problem_sets)
    out: dict[str, Any] = {
        "items": items,
        "read_model": {"seconds": round(read_s, 3), "items_per_s": round(items / read_s, 1)},
        "formats": {},
    }
    ctx = FormatContext(pseudonym_key=b"bench")
    scratch = data_dir / "per-format"
    scratch.mkdir(exist_ok=True)
    # Warm-up: the first Parquet writer of a process pays pyarrow's one-time set-up (~1 s).
    with PairWriter(scratch / "warm-up", FORMATS[FORMAT].arrow_schema) as writer:
        for row in FORMATS[FORMAT].rows(problem_sets[0], ctx):
            writer.write(row)
    for name, fmt in FORMATS.items():
        t0 = time.perf_counter()
        rows = 0
        for ps in problem_sets:
            for _row in fmt.rows(ps, ctx):
                rows += 1
        rows_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with PairWriter(scratch / name, fmt.arrow_schema) as writer:
            for ps in problem_sets:
                for row in fmt.rows(ps, ctx):
                    writer.write(row)
        write_s = time.perf_counter() - t0
        out["formats"][name] = {
            "rows": rows,
            "rows_s": round(rows_s, 3),
            "rows_and_write_s": round(write_s, 3),
            "records_per_s": round(rows / write_s, 1) if write_s else None,
        }
    shutil.rmtree(scratch, ignore_errors=True)
    return out


def data_for(work: Path, n: int, steps_per_set: int, fresh: bool) -> tuple[Path, Any, float]:
    """Return a data directory with ``n`` items (reused when one of that size is there)."""
    data_dir = work / f"n{n}-k{steps_per_set}"
    world_file = data_dir / delivery_data.WORLD_FILE
    if world_file.exists() and not fresh:
        log(f"export N={n:,}: reusing {data_dir} (migrated to the code's schema if behind)")
        engine = make_engine(delivery_data.bench_settings(data_dir))
        upgrade(engine)
        engine.dispose()
        return data_dir, delivery_data.load_world(data_dir), 0.0
    shutil.rmtree(data_dir, ignore_errors=True)
    log(f"export N={n:,}: making the data in {data_dir}")
    t0 = time.perf_counter()
    world = delivery_data.make(data_dir, n, steps_per_set, log=lambda m: log(m.strip()))
    return data_dir, world, time.perf_counter() - t0


def run_size(n: int, a: argparse.Namespace) -> dict[str, Any]:
    """Everything measured for one N."""
    data_dir, world, make_s = data_for(a.work, n, a.steps_per_set, a.fresh)
    db_path = data_dir / "expertloop.sqlite3"
    res: dict[str, Any] = {
        "items": n,
        "make_s": round(make_s, 1),
        "db_mb": round(db_path.stat().st_size / 2**20),
    }
    out = data_dir / "ceiling.jsonl"
    log(f"export N={n:,}: raw ceiling")
    ceilings = [raw_ceiling(db_path, world.project_id, out)]
    with Server(data_dir) as server:
        res["server_idle_rss_mb"] = round(mb(proc_kb(server.pid, "VmRSS")), 1)
        log(f"export N={n:,}: live export over HTTP")
        if not a.no_live:
            res["live"] = live_export(server, world, a.format)
            ceilings.append(raw_ceiling(db_path, world.project_id, out))
        if a.no_snapshot or (a.snapshot_max_items and n > a.snapshot_max_items):
            log(f"export N={n:,}: snapshot job skipped (--no-snapshot / --snapshot-max-items)")
        else:
            log(f"export N={n:,}: snapshot job")
            res["snapshot"] = snapshot_job(server, world, a.snapshot_timeout)
    out.unlink(missing_ok=True)
    res["ceiling"] = min(ceilings, key=lambda c: c["seconds"])
    res["ceiling_runs_s"] = [c["seconds"] for c in ceilings]
    if a.format == FORMAT and "live" in res:
        res["live_equals_ceiling"] = res["live"]["sha256"] == res["ceiling"]["sha256"]
    if not a.keep_snapshots:
        shutil.rmtree(data_dir / "snapshots", ignore_errors=True)
    if a.per_format_items and n == min(a.size_list):
        log(f"export N={n:,}: per format, in-process, on {min(n, a.per_format_items):,} items")
        res["per_format"] = per_format(data_dir, world, min(n, a.per_format_items))
    return res


def _report_live(res: dict[str, Any]) -> None:
    live, ceil = res["live"], res["ceiling"]
    share = live["records_per_s"] / ceil["records_per_s"]
    print(
        f"  live export {live['format']:<12} {live['records']:>9,} records"
        f" {live['seconds']:>8.2f} s"
        f" {live['records_per_s']:>10,.0f} rec/s   head {live['head_s'] * 1000:.0f} ms,"
        f" first byte {live['first_byte_s'] * 1000:.0f} ms"
    )
    print(
        f"  raw sqlite3 -> JSONL       {ceil['records']:>9,} records {ceil['seconds']:>8.2f} s"
        f" {ceil['records_per_s']:>10,.0f} rec/s   (runs: {res['ceiling_runs_s']} s)"
    )
    if "live_equals_ceiling" in res:
        same = "yes" if res["live_equals_ceiling"] else "NO"
        print(f"  live export bytes == raw ceiling bytes: {same} ({live['bytes'] / 2**20:.1f} MB)")
    print(
        f"  server RSS: idle {res['server_idle_rss_mb']} MB; during the live export peak"
        f" {live['peak_rss_mb']} MB sampled, {live['vmhwm_mb']} MB VmHWM"
    )
    print(f"  live export / raw ceiling: {share:.1%}   goal >= 50 %: {_met(share >= 0.5)}")
    fb = live["first_byte_s"]
    print(f"  first byte {fb:.3f} s   goal < 1 s: {_met(fb < 1)}")


def report(results: list[dict[str, Any]]) -> None:
    """Print the figures and the goals."""
    for res in results:
        n = res["items"]
        print(f"\nN = {n:,} items (database {res['db_mb']:,} MB; made in {res['make_s']} s)")
        if "live" in res:
            _report_live(res)
        else:
            print(
                f"  raw sqlite3 -> JSONL: {res['ceiling']['records_per_s']:,.0f} rec/s;"
                " live export not run (--no-live)"
            )
        snap = res.get("snapshot")
        if snap:
            print(
                f"  snapshot job (all formats, JSONL + Parquet): {snap['seconds']:.1f} s,"
                f" {snap['items_per_s']:,.0f} items/s, {snap['rows_per_s']:,.0f} rows/s,"
                f" {snap['total_bytes'] / 2**20:,.0f} MB; server peak RSS"
                f" {snap['peak_rss_mb']} MB sampled, {snap['vmhwm_mb']} MB VmHWM"
            )
            print("    rows: " + ", ".join(f"{k} {v:,}" for k, v in snap["rows"].items()))
        pf = res.get("per_format")
        if pf:
            rm = pf["read_model"]
            print(
                f"  in-process on {pf['items']:,} items: read model (lineage.accepted)"
                f" {rm['seconds']:.2f} s = {rm['items_per_s']:,.0f} items/s; then per format"
                " (rows + JSON + JSONL and Parquet writers):"
            )
            for name, f in pf["formats"].items():
                rate = f["records_per_s"] or 0
                print(
                    f"    {name:<24} {f['rows']:>8,} rows  rows() {f['rows_s']:>6.2f} s"
                    f"  + writing {f['rows_and_write_s']:>6.2f} s  {rate:>9,.0f} rec/s"
                )
    lives = [r for r in results if "live" in r]
    if len(lives) > 1:
        small, large = lives[0], lives[-1]
        ratio = large["live"]["peak_rss_mb"] / small["live"]["peak_rss_mb"]
        print(
            f"\npeak memory of the live export: N={large['items']:,}"
            f" {large['live']['peak_rss_mb']} MB"
            f" vs N={small['items']:,} {small['live']['peak_rss_mb']} MB = {ratio:.2f}x"
            f"   goal <= 1.2x: {_met(ratio <= 1.2)}"
        )
    snaps = [r for r in results if r.get("snapshot")]
    if len(snaps) > 1:
        small, large = snaps[0], snaps[-1]
        sr = large["snapshot"]["peak_rss_mb"] / small["snapshot"]["peak_rss_mb"]
        print(
            f"peak memory of the snapshot job: {sr:.2f}x from N={small['items']:,}"
            f" to N={large['items']:,}"
        )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="100000,1000000", help="item counts (100000,1000000)")
    p.add_argument("--format", default=FORMAT, help="live export format (openai-sft)")
    p.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/el-bench-export"),
        help="where the data directories live (reused per N unless --fresh)",
    )
    p.add_argument("--fresh", action="store_true", help="make the data again")
    p.add_argument("--steps-per-set", type=int, default=1)
    p.add_argument("--no-snapshot", action="store_true", help="skip the snapshot job")
    p.add_argument("--no-live", action="store_true", help="skip the live export")
    p.add_argument(
        "--snapshot-max-items",
        type=int,
        default=0,
        help="skip the snapshot job for sizes above this (0: never skip)",
    )
    p.add_argument("--snapshot-timeout", type=float, default=3600)
    p.add_argument("--keep-snapshots", action="store_true", help="keep the built folders")
    p.add_argument(
        "--per-format-items",
        type=int,
        default=20000,
        help="items for the in-process per-format pass (0: skip)",
    )
    p.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    a = p.parse_args()
    print(f"delivery_export: {common.machine_line()}")
    print(f"started {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; sizes {a.sizes}")
    a.size_list = [int(n) for n in a.sizes.split(",") if n]
    results = [run_size(n, a) for n in a.size_list]
    report(results)
    if a.out:
        a.out.write_text(json.dumps(results, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
