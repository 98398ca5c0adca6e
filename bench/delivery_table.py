"""Print one table from a delivery_vs_label_studio.sh run: figure, Label Studio, ExpertLoop, ratio.

Reads ``ls.json`` (Label Studio's ``results-latest.json``), ``import.json``
(``delivery_import.py --out``) and ``export.json`` (``delivery_export.py --out``) from the run's
folder. Every figure comes from those files; a figure a file lacks is shown as ``-``.

    .venv/bin/python bench/delivery_table.py /tmp/bench-delivery-<stamp>
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value < 10:
        return f"{value:,.2f}{unit}"
    return f"{value:,.0f}{unit}"


def _ratio(ls: Any, el: Any, higher_is_better: bool = True) -> str:
    if not ls or not el:
        return "-"
    r = el / ls if higher_is_better else ls / el
    return f"{r:,.1f}x better" if r >= 1 else f"{1 / r:,.1f}x worse"


def table(folder: Path) -> str:
    """Return the comparison table (Markdown) of the run in ``folder``."""
    ls = _load(folder / "ls.json") or {}
    imp = _load(folder / "import.json") or {}
    exports = {r["items"]: r for r in (_load(folder / "export.json") or [])}
    sizes = sorted(exports)
    e100 = exports[sizes[0]] if sizes else {}
    e1m = exports[sizes[-1]] if len(sizes) > 1 else {}
    n_small = f"{sizes[0]:,}" if sizes else "-"
    n_large = f"{sizes[-1]:,}" if len(sizes) > 1 else "-"
    n_imp = f"{imp.get('items', 0):,}"
    # Label Studio's figures of the same N as ours (its results are keyed by N as text).
    ls_imp = _get(ls, "sizes", str(imp.get("items"))) or {}
    ls100 = _get(ls, "sizes", str(sizes[0])) if sizes else None
    ls100 = ls100 or {}
    rows: list[tuple[str, Any, Any, str, str]] = []

    def add(label: str, ls_v: Any, el_v: Any, unit: str = "", better: bool | None = True) -> None:
        ratio = "-" if better is None else _ratio(ls_v, el_v, better)
        rows.append((label, ls_v, el_v, unit, ratio))

    add(
        f"import {n_imp} items, items/s (upload to job done)",
        _get(ls_imp, "import", "tasks_per_s"),
        _get(imp, "http", "items_per_s"),
    )
    add(
        f"import {n_imp}, seconds",
        _get(ls_imp, "import", "seconds"),
        _get(imp, "http", "end_to_end_s"),
        " s",
        False,
    )
    add(
        "import: raw sqlite3 insert ceiling, items/s",
        None,
        _get(imp, "raw", "insert", "items_per_s"),
        better=None,
    )
    add(
        f"export {n_small}, records/s",
        _get(ls100, "export_json", "records_per_s"),
        _get(e100, "live", "records_per_s"),
    )
    add(
        f"export {n_small}, seconds",
        _get(ls100, "export_json", "seconds"),
        _get(e100, "live", "seconds"),
        " s",
        False,
    )
    add(
        f"export {n_small}, time to first byte",
        _get(ls100, "export_json", "ttfb_s"),
        _get(e100, "live", "first_byte_s"),
        " s",
        False,
    )
    add(
        f"export {n_small}: raw SQLite->JSONL ceiling, records/s",
        None,
        _get(e100, "ceiling", "records_per_s"),
        better=None,
    )
    add(f"export {n_large}, records/s", None, _get(e1m, "live", "records_per_s"), better=None)
    add(
        f"export {n_large}, time to first byte", None, _get(e1m, "live", "first_byte_s"), " s", None
    )
    add(
        f"export {n_large}: raw SQLite->JSONL ceiling, records/s",
        None,
        _get(e1m, "ceiling", "records_per_s"),
        better=None,
    )
    add(
        f"server peak RSS (LS: whole run; EL: {n_small} export), MB",
        ls.get("rss_peak_sampled_mb"),
        _get(e100, "live", "peak_rss_mb"),
        " MB",
        False,
    )
    add(
        f"server peak RSS, {n_large} export, MB",
        None,
        _get(e1m, "live", "peak_rss_mb"),
        " MB",
        None,
    )
    add(
        f"server peak RSS, import {n_imp}, MB",
        None,
        _get(imp, "http", "server_peak_rss_mb"),
        " MB",
        None,
    )
    add(
        f"snapshot job {n_small} (all formats), items/s",
        None,
        _get(e100, "snapshot", "items_per_s"),
        better=None,
    )
    add(
        f"snapshot job {n_large} (all formats), items/s",
        None,
        _get(e1m, "snapshot", "items_per_s"),
        better=None,
    )
    add(
        f"snapshot job peak RSS {n_small} / {n_large}, MB",
        None,
        _pair(_get(e100, "snapshot", "peak_rss_mb"), _get(e1m, "snapshot", "peak_rss_mb")),
        "",
        None,
    )
    lines = ["| figure | Label Studio | ExpertLoop | ratio |", "|---|---:|---:|---|"]
    for label, ls_v, el_v, unit, ratio in rows:
        el_s = el_v if isinstance(el_v, str) else _fmt(el_v, unit)
        lines.append(f"| {label} | {_fmt(ls_v, unit)} | {el_s} | {ratio} |")
    goals = []
    if e100 and e100.get("live") and e100.get("ceiling"):
        for n, e in ((sizes[0], e100), (sizes[-1], e1m)):
            if e and e.get("live"):
                share = e["live"]["records_per_s"] / e["ceiling"]["records_per_s"]
                goals.append(f"export {n:,}: {share:.1%} of the raw ceiling (goal >= 50 %)")
                goals.append(
                    f"export {n:,}: first byte {e['live']['first_byte_s']:.3f} s (goal < 1 s)"
                )
    if e100.get("live") and e1m.get("live"):
        ratio = e1m["live"]["peak_rss_mb"] / e100["live"]["peak_rss_mb"]
        goals.append(f"export peak RSS {n_large} / {n_small}: {ratio:.2f}x (goal <= 1.2x)")
    if imp and _get(ls_imp, "import", "tasks_per_s"):
        el, ceiling = imp["http"]["items_per_s"], imp["raw"]["insert"]["items_per_s"]
        goals.append(
            f"import: {el / ls_imp['import']['tasks_per_s']:.2f}x Label Studio (goal >= 5x);"
            f" {el / ceiling:.1%} of the raw insert ceiling"
        )
    meta = ls.get("meta", {})
    head = [f"Label Studio: {meta.get('label-studio (pip)', '-')} ({meta.get('server mode', '-')})"]
    return "\n".join(head + [""] + lines + [""] + [f"- {g}" for g in goals])


def _pair(a: Any, b: Any) -> str:
    return f"{_fmt(a)} / {_fmt(b)}"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("folder", type=Path)
    print(table(p.parse_args().folder))


if __name__ == "__main__":
    main()
