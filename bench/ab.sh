#!/usr/bin/env bash
# Two builds of tocsin measured turn about on the same alert ingest, so that a change is judged
# against the build before it in the same minutes of a shared, noisy machine (bench/README.md).
#
# usage: bench/ab.sh BASE_BUILD NEW_BUILD [MODE] [PREFILL]
#   MODE     new | dup | corr | batch (default batch: arrays of 1000 over 4 connections)
#   PREFILL  alerts posted first, untimed (default 0)
# Environment: AB_ROUNDS (default 3) rounds of base then new, AB_SECONDS (default 5) per run.
# Each run is a fresh daemon (store.durability: batch) on 127.0.0.1 in a temporary directory,
# stopped by its PID. Prints one line per run and the medians and their ratio.
set -euo pipefail

BASE=${1:?usage: bench/ab.sh BASE_BUILD NEW_BUILD [MODE] [PREFILL]}
NEW=${2:?usage: bench/ab.sh BASE_BUILD NEW_BUILD [MODE] [PREFILL]}
MODE=${3:-batch}
PREFILL=${4:-0}
ROUNDS=${AB_ROUNDS:-3}
SECS=${AB_SECONDS:-5}
LOADGEN=$NEW/tocsin-loadgen
PIDS=()
NOTES=()
source "$(dirname "$0")/lib.sh"

case $MODE in
batch) ARGS=(--mode batch --conns 4 --batch 1000) ;;
new | dup | corr) ARGS=(--mode "$MODE" --conns 50) ;;
*) die "MODE must be new, dup, corr or batch" ;;
esac
for b in "$BASE/tocsin" "$NEW/tocsin" "$LOADGEN"; do
    [[ -x $b ]] || die "$b is not built"
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-ab.XXXXXX")
cleanup() {
    local p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done
    rm -rf -- "$WORK"
}
trap cleanup EXIT
printf 'log:\n  level: warn\nstore:\n  durability: batch\n' >"$WORK/tocsin.yaml"

# one_run BUILD: a fresh daemon, the prefill, one timed run; prints alerts/s.
one_run() {
    local port pid line
    rm -rf -- "$WORK/data"
    port=$("$LOADGEN" freeport)
    "$1/tocsin" serve --listen "127.0.0.1:$port" --data "$WORK/data" \
        --config "$WORK/tocsin.yaml" >"$WORK/daemon.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 50); do
        "$LOADGEN" stats --port "$port" >/dev/null 2>&1 && break
        sleep 0.1
    done
    if ((PREFILL > 0)); then
        "$LOADGEN" alerts --port "$port" --mode fill --conns 4 --batch 1000 --count "$PREFILL" \
            --duration 60 --offset 5000000 >/dev/null
    fi
    line=$("$LOADGEN" alerts --port "$port" "${ARGS[@]}" --duration "$SECS")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
    kv alerts_per_s "$line"
}

base_v=()
new_v=()
for r in $(seq "$ROUNDS"); do
    v=$(one_run "$BASE")
    base_v+=("$v")
    w=$(one_run "$NEW")
    new_v+=("$w")
    say "round $r: base $v, new $w alerts/s"
done
mb=$(median "${base_v[@]}")
mn=$(median "${new_v[@]}")
printf 'mode=%s prefill=%s runs=%s base_median=%s new_median=%s ratio=%s\n' "$MODE" "$PREFILL" \
    "$ROUNDS" "$mb" "$mn" "$(awk -v a="$mn" -v b="$mb" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
