#!/usr/bin/env bash
# tocsin benchmark: end-to-end event throughput (WebSocket and HTTP producers) with 10, 100 and
# 1000 triggers, daemon RSS, and event -> webhook latency. See bench/README.md.
#
#   bench/run.sh [BUILD_DIR]        (normally through `make bench`, which builds first)
#
# Builds nothing. Loopback only; bounded (< 5 minutes: runs that would overrun are skipped and
# said so); every process it starts is stopped by PID on exit. Prints a markdown report and writes
# it to bench/out/results.md (the raw loadgen lines and daemon logs go next to it).
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out
TOCSIN=$BUILD/tocsin
LOADGEN=$BUILD/tocsin-loadgen

SIZES=(10 100 1000)   # triggers per daemon (a fresh daemon for each size)
MODES=(ws1 ws4 http4) # producers, see mode_args
RUNS=3                # every figure is the median of this many runs
RUN_SECONDS=5         # one throughput run
LAT_RATE=1000         # events/s in the latency scenario
LAT_SECONDS=10        # one latency run
BUDGET=275            # no run may end later than this (worst case), in seconds since start
LAT_RESERVE=65        # seconds kept for the memory and latency part
LAT_WORST=$((LAT_SECONDS + 17)) # a latency run: its load, a 10 s close wait, the 5 s grace

PIDS=()     # processes started and not yet reaped; stopped by PID on exit
TMPDIRS=()  # removed on exit
NOTES=()    # anything that went wrong, printed under the tables
SKIPPED=()  # throughput runs left out for time, as triggers/mode#run
BACKLOG=0   # the current daemon has not caught up with a run: later runs would measure that
DAEMON_PID=
DATA=
PORT=
WORK=
RAW=$OUT/raw.txt

say() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
note() {
    say "warning: $*"
    NOTES+=("$*")
}

forget_pid() {
    local keep=() p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    PIDS=(${keep[@]+"${keep[@]}"})
}

any_alive() {
    local p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do
        kill -0 "$p" 2>/dev/null && return 0
    done
    return 1
}

cleanup() {
    local p d i
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 50; i++)); do
        any_alive || break
        sleep 0.1
    done
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -KILL "$p" 2>/dev/null || true; done
    for d in ${TMPDIRS[@]+"${TMPDIRS[@]}"}; do rm -rf -- "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# kv KEY LINE: the value of KEY=... in a loadgen result line, or "na".
kv() {
    local w
    for w in $2; do
        if [[ $w == "$1="* ]]; then
            printf '%s\n' "${w#*=}"
            return 0
        fi
    done
    printf 'na\n'
}

# median V...: median of the numeric arguments ("na" and the like are ignored), or "na".
median() {
    local v=() x
    for x in "$@"; do
        [[ $x =~ ^[0-9]+([.][0-9]+)?$ ]] && v+=("$x")
    done
    if ((${#v[@]} == 0)); then
        printf 'na\n'
        return 0
    fi
    printf '%s\n' "${v[@]}" | sort -g |
        awk 'BEGIN {OFMT = "%.10g"} {a[NR] = $1}
             END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# count_ok V...: how many arguments are numbers.
count_ok() {
    local n=0 x
    for x in "$@"; do
        [[ $x =~ ^[0-9]+([.][0-9]+)?$ ]] && n=$((n + 1))
    done
    printf '%s\n' "$n"
}

# round V: integer, or the argument unchanged when it is not a number.
round() {
    if [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; then printf '%.0f\n' "$1"; else printf '%s\n' "$1"; fi
}

# run_lg LIMIT_S ARGS...: tocsin-loadgen, killed after LIMIT_S seconds. Its stdout is left in
# $WORK/lg.out; both streams are appended to the raw log. Returns loadgen's status.
run_lg() {
    local limit=$1 rc=0 pid
    shift
    timeout -k 5 "$limit" "$LOADGEN" "$@" >"$WORK/lg.out" 2>"$WORK/lg.err" &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    {
        printf '$ tocsin-loadgen %s   # exit %d\n' "$*" "$rc"
        cat "$WORK/lg.out" "$WORK/lg.err"
    } >>"$RAW"
    if ((rc != 0)); then sed 's/^/      /' "$WORK/lg.err" >&2; fi
    return "$rc"
}

lg_last() { tail -n 1 "$WORK/lg.out"; }

start_daemon() {
    local i
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-bench.XXXXXX")
    TMPDIRS+=("$DATA")
    "$TOCSIN" serve --listen 127.0.0.1:0 --data "$DATA" --config "$WORK/tocsin.yaml" \
        >"$DATA/daemon.log" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    PORT=
    for ((i = 0; i < 100; i++)); do # 10 s for the port file and a first answer
        if [[ -z $PORT && -s $DATA/tocsin.port ]]; then
            PORT=$(tr -dc '0-9' <"$DATA/tocsin.port")
        fi
        if [[ -n $PORT ]] && "$LOADGEN" stats --port "$PORT" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            tail -n 20 "$DATA/daemon.log" >&2
            die "tocsin exited during start-up"
        fi
        sleep 0.1
    done
    tail -n 20 "$DATA/daemon.log" >&2
    die "tocsin did not write $DATA/tocsin.port and answer /api/v1/stats within 10 s"
}

# stop_daemon LABEL: SIGTERM, wait (10 s, then SIGKILL), keep its log as out/daemon-LABEL.log.
stop_daemon() {
    local rc=0 i errs
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$DAEMON_PID" 2>/dev/null; then
        note "tocsin ($1) was still running 10 s after SIGTERM: killed"
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
    fi
    wait "$DAEMON_PID" 2>/dev/null || rc=$?
    forget_pid "$DAEMON_PID"
    DAEMON_PID=
    ((rc == 0)) || note "tocsin ($1) exited with status $rc after SIGTERM"
    cp "$DATA/daemon.log" "$OUT/daemon-$1.log"
    errs=$(grep -c 'level=error' "$DATA/daemon.log" || true)
    ((errs == 0)) || note "tocsin ($1) logged $errs error-level lines (bench/out/daemon-$1.log)"
    rm -rf -- "$DATA"
}

mode_args() {
    case $1 in
    ws1) printf '%s\n' "ws --conns 1 --batch 1" ;;
    ws4) printf '%s\n' "ws --conns 4 --batch 1" ;;
    http4) printf '%s\n' "http --conns 4 --batch 100" ;;
    esac
}

mode_label() {
    case $1 in
    ws1) printf '%s\n' "WebSocket, 1 connection, 1 event/frame" ;;
    ws4) printf '%s\n' "WebSocket, 4 connections, 1 event/frame" ;;
    http4) printf '%s\n' "HTTP POST, 4 connections, 100 events/request" ;;
    esac
}

declare -A EPS P99 # "triggers/mode" -> one value per run ("na" for a failed run)
RSS_IDLE=na
RSS_AFTER=na
LAT_P50=()
LAT_P90=()
LAT_P99=()
LAT_MAX=()
LAT_LOST=()
LAT_SENT=()

# throughput_run TRIGGERS MODE RUN
throughput_run() {
    local n=$1 mode=$2 r=$3 args line eps=na p99=na rc=0
    read -r -a args <<<"$(mode_args "$mode")"
    run_lg $((RUN_SECONDS + 45)) "${args[@]}" --port "$PORT" --duration "$RUN_SECONDS" || rc=$?
    if ((rc == 0)); then
        line=$(lg_last)
        eps=$(kv events_per_s "$line")
        p99=$(kv engine_p99_us "$line")
        say "triggers=$n $mode run $r/$RUNS: $eps events/s, engine p99 $p99 us"
    elif ((rc == 3)); then
        BACKLOG=1
        note "triggers=$n $mode run $r: the daemon had not processed every event 30 s after the" \
            "run; the remaining runs with $n triggers are skipped"
    else
        note "triggers=$n $mode run $r: loadgen failed (exit $rc, see bench/out/raw.txt)"
    fi
    EPS[$n/$mode]+=" $eps"
    P99[$n/$mode]+=" $p99"
}

# The throughput part gets BUDGET - LAT_RESERVE seconds, shared in equal slots by every
# (triggers, mode) pair: a slow daemon loses later runs of a pair, not whole trigger sizes.
# The first run of a pair may use time left over by earlier pairs.
throughput() {
    local n mode r slot=0 end t0=$SECONDS limit=$((BUDGET - LAT_RESERVE))
    local slots=$((${#SIZES[@]} * ${#MODES[@]}))
    for n in "${SIZES[@]}"; do
        start_daemon
        BACKLOG=0
        say "tocsin pid $DAEMON_PID on 127.0.0.1:$PORT; registering $n triggers"
        run_lg 60 triggers --port "$PORT" --count "$n" || die "registering $n triggers failed"
        for mode in "${MODES[@]}"; do
            slot=$((slot + 1))
            end=$((t0 + (limit - t0) * slot / slots))
            for ((r = 1; r <= RUNS; r++)); do
                ((BACKLOG == 0)) || continue
                if ((SECONDS + RUN_SECONDS + 3 > limit)) ||
                    ((r > 1 && SECONDS + RUN_SECONDS + 3 > end)); then
                    SKIPPED+=("$n/$mode#$r")
                    continue
                fi
                throughput_run "$n" "$mode" "$r"
            done
        done
        if ((n == 1000)) && [[ -n ${EPS[$n/ws1]:-}${EPS[$n/ws4]:-}${EPS[$n/http4]:-} ]] &&
            run_lg 10 rss --pid "$DAEMON_PID"; then
            RSS_AFTER=$(kv rss_mib "$(lg_last)")
        fi
        stop_daemon "triggers-$n"
    done
    ((${#SKIPPED[@]} == 0)) ||
        note "${#SKIPPED[@]} throughput runs skipped to stay within the time budget: ${SKIPPED[*]}"
}

latency_runs() {
    local wport line r
    start_daemon
    say "tocsin pid $DAEMON_PID on 127.0.0.1:$PORT; 1000 triggers, then idle 2 s"
    run_lg 60 triggers --port "$PORT" --count 1000 || die "registering 1000 triggers failed"
    sleep 2
    if run_lg 10 rss --pid "$DAEMON_PID"; then RSS_IDLE=$(kv rss_mib "$(lg_last)"); fi
    run_lg 10 freeport || die "no free port for the webhook receiver"
    wport=$(lg_last)
    run_lg 30 triggers --port "$PORT" --count 1 --source LATENCY --threshold 1500 \
        --webhook "http://127.0.0.1:$wport/hook" --id-prefix latency ||
        die "registering the latency trigger failed"
    for ((r = 1; r <= RUNS; r++)); do
        if ((SECONDS + LAT_WORST > BUDGET)); then
            note "latency run $r skipped to stay within the time budget"
            continue
        fi
        if run_lg $((LAT_SECONDS + 30)) latency --port "$PORT" --rate "$LAT_RATE" \
            --duration "$LAT_SECONDS" --webhook-port "$wport"; then
            line=$(lg_last)
            LAT_P50+=("$(kv p50_ms "$line")")
            LAT_P90+=("$(kv p90_ms "$line")")
            LAT_P99+=("$(kv p99_ms "$line")")
            LAT_MAX+=("$(kv max_ms "$line")")
            LAT_LOST+=("$(kv lost "$line")")
            LAT_SENT+=("$(kv sent "$line")")
            say "latency run $r/$RUNS: sent ${LAT_SENT[-1]}, p50 ${LAT_P50[-1]} ms," \
                "p99 ${LAT_P99[-1]} ms, lost ${LAT_LOST[-1]}"
        else
            note "latency run $r: loadgen failed (see bench/out/raw.txt)"
        fi
    done
    stop_daemon "latency"
}

report() {
    local n mode e p cpu rev
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || printf 'uncommitted')
    printf '## Benchmark results\n\n'
    printf '%s, tocsin %s, %s, %s cores (shared), %s. Loopback only.\n' \
        "$(date -u +%Y-%m-%dT%H:%MZ)" "$rev" "${cpu:-unknown CPU}" "$(nproc)" "$(uname -sr)"
    printf 'Every figure is the median of %d runs. Wall time %d s.\n\n' "$RUNS" "$SECONDS"
    cat <<EOF
### Throughput

Each run streams for $RUN_SECONDS s; events/s counts a run as done only when the daemon's
\`events.processed\` has caught up (end to end). Engine p99 is \`engine.latencyUs.p99\` from
\`/api/v1/stats\` after the run (the daemon's last 60 s, so it overlaps the runs before it).

EOF
    printf '| triggers | producer | events/s | engine p99 (µs) | runs ok |\n'
    printf '|---:|---|---:|---:|---:|\n'
    for n in "${SIZES[@]}"; do
        for mode in "${MODES[@]}"; do
            e=${EPS[$n/$mode]:-}
            p=${P99[$n/$mode]:-}
            # shellcheck disable=SC2086 # word splitting of the run lists is wanted
            printf '| %s | %s | %s | %s | %s/%s |\n' "$n" "$(mode_label "$mode")" \
                "$(round "$(median $e)")" "$(round "$(median $p)")" "$(count_ok $e)" "$RUNS"
        done
    done
    printf '\n### Memory\n\n| daemon | RSS (MiB) |\n|---|---:|\n'
    printf '| 1000 triggers loaded, idle for 2 s | %s |\n' "$RSS_IDLE"
    printf '| 1000 triggers, right after its throughput runs | %s |\n' "$RSS_AFTER"
    cat <<EOF

### Event to webhook latency

$LAT_RATE events/s for $LAT_SECONDS s over one WebSocket, each firing one THRESHOLD trigger (source
LATENCY, 1000 other triggers loaded) whose webhook goes to loadgen's receiver; time from just
before the frame is sent to the webhook POST being read. Lost = sent minus received after a 5 s
grace. Sent below $((LAT_RATE * LAT_SECONDS)) means the daemon stopped reading the WebSocket for a
while: the events it held back were never sent, so their delay is not in the percentiles.

EOF
    printf '| p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | sent | lost | runs ok | p99 per run (ms) '
    printf '|\n'
    printf '|---:|---:|---:|---:|---:|---:|---:|---|\n'
    printf '| %s | %s | %s | %s | %s | %s | %s/%s | %s |\n' \
        "$(median ${LAT_P50[@]+"${LAT_P50[@]}"})" "$(median ${LAT_P90[@]+"${LAT_P90[@]}"})" \
        "$(median ${LAT_P99[@]+"${LAT_P99[@]}"})" "$(median ${LAT_MAX[@]+"${LAT_MAX[@]}"})" \
        "$(round "$(median ${LAT_SENT[@]+"${LAT_SENT[@]}"})")" \
        "$(median ${LAT_LOST[@]+"${LAT_LOST[@]}"})" "${#LAT_P99[@]}" "$RUNS" \
        "${LAT_P99[*]:-none}"
    if ((${#NOTES[@]} > 0)); then
        printf '\n### Notes\n\n'
        printf -- '- %s\n' "${NOTES[@]}"
    fi
}

main() {
    [[ -x $TOCSIN ]] || die "$TOCSIN not found: build first (make build), or use make bench"
    [[ -x $LOADGEN ]] || die "$LOADGEN not found: build first (make build), or use make bench"
    mkdir -p "$OUT"
    : >"$RAW"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-bench-work.XXXXXX")
    TMPDIRS+=("$WORK")
    printf 'log:\n  level: warn\nstore:\n  durability: batch\n' >"$WORK/tocsin.yaml"
    say "tocsin benchmark: $(nproc) cores, loopback, ${RUN_SECONDS} s runs, medians of $RUNS"
    throughput
    latency_runs
    report >"$WORK/results.md"
    cp "$WORK/results.md" "$OUT/results.md"
    printf '\n'
    cat "$OUT/results.md"
    say "written to $OUT/results.md (raw lines: $RAW)"
}

main
