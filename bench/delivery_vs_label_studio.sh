#!/usr/bin/env bash
# Label Studio and ExpertLoop delivery benchmarks in the same run on this machine, one after
# the other (never at the same time), then one table: figure, Label Studio, ExpertLoop, ratio.
#
#   bash bench/delivery_vs_label_studio.sh                 # ~15 min LS + ExpertLoop (see README)
#   SKIP_LS=1 bash bench/delivery_vs_label_studio.sh       # reuse /tmp/lsbench-run/results-latest.json
#
# Env knobs (defaults in brackets):
#   LS_SERVER [gunicorn]  LS_BENCH_SIZES [100000]  (passed to ../shared/peers/label_studio_bench.sh)
#   PEERS [/work/shared/peers]  EL_IMPORT_ITEMS [100000]  EL_EXPORT_SIZES [100000,1000000]
#   EL_EXPORT_ARGS [] (extra delivery_export.py arguments)  OUT [/tmp/bench-delivery-<stamp>]
#   LS_BENCH_ARGS [--phase-cap-s 60]  LS_TOTAL_BUDGET_S [1200]  LS_BENCH_BUDGET_S [900]
#
# Loopback only: Label Studio's driver binds 127.0.0.1 and its client refuses other hosts; the
# ExpertLoop benchmarks start their own servers on 127.0.0.1 and stop them by PID. Nothing of
# Label Studio is kept in this repository (its venv and data live under /tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PEERS="${PEERS:-/work/shared/peers}"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
OUT="${OUT:-/tmp/bench-delivery-$STAMP}"
EL_IMPORT_ITEMS="${EL_IMPORT_ITEMS:-100000}"
EL_EXPORT_SIZES="${EL_EXPORT_SIZES:-100000,1000000}"
EL_EXPORT_ARGS="${EL_EXPORT_ARGS:-}"
PY="$ROOT/.venv/bin/python"
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "run folder $OUT; machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM"
# Only Label Studio's import and export figures (and its peak RSS) are compared here, so its other
# phases are capped at 60 s each, and the export gets the time it needs on a busy machine (with
# the driver's defaults a slow run timed out in the export).
export LS_BENCH_ARGS="${LS_BENCH_ARGS:---phase-cap-s 60}"
export LS_TOTAL_BUDGET_S="${LS_TOTAL_BUDGET_S:-1200}" LS_BENCH_BUDGET_S="${LS_BENCH_BUDGET_S:-900}"
load() { log "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
START_MARK="$OUT/.started"
touch "$START_MARK"
if [ -z "${SKIP_LS:-}" ]; then
    load
    log "1/3 Label Studio (LS_SERVER=${LS_SERVER:-gunicorn}, N=${LS_BENCH_SIZES:-100000}, $LS_BENCH_ARGS)"
    LS_SERVER="${LS_SERVER:-gunicorn}" LS_BENCH_SIZES="${LS_BENCH_SIZES:-100000}" \
        bash "$PEERS/label_studio_bench.sh" | tee "$OUT/ls-table.txt" \
        || log "the Label Studio run failed (see /tmp/lsbench-run/bench-*.log); its figures are missing"
    if [ /tmp/lsbench-run/results-latest.json -nt "$START_MARK" ]; then
        cp /tmp/lsbench-run/results-latest.json "$OUT/ls.json"
    fi
else
    log "1/3 Label Studio skipped (SKIP_LS): reusing its latest results"
    cp /tmp/lsbench-run/results-latest.json "$OUT/ls.json"
fi

load
log "2/3 ExpertLoop import of $EL_IMPORT_ITEMS items"
"$PY" bench/delivery_import.py --items "$EL_IMPORT_ITEMS" --ls-results "$OUT/ls.json" \
    --out "$OUT/import.json" | tee "$OUT/import.txt"

load
log "3/3 ExpertLoop export of $EL_EXPORT_SIZES items"
# shellcheck disable=SC2086
"$PY" bench/delivery_export.py --sizes "$EL_EXPORT_SIZES" --out "$OUT/export.json" \
    $EL_EXPORT_ARGS | tee "$OUT/export.txt"

load
echo
echo "== delivery: Label Studio vs ExpertLoop, same machine, same run ($(date -u +%Y-%m-%d) UTC) =="
"$PY" bench/delivery_table.py "$OUT" | tee "$OUT/table.md"
log "done; everything is in $OUT"
