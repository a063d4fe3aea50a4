#!/usr/bin/env bash
# tocsin benchmark: end-to-end event throughput (WebSocket and HTTP producers) with 10, 100 and
# 1000 triggers, daemon RSS, and event -> webhook latency; then the Alerta alert store: single and
# batch POSTs of new, duplicate and correlated alerts, a fill to 1,000,000 alerts, RSS and disk
# per alert, list latency with the store full and the time a restart on it takes to answer; then
# notifications (bench/notify.sh: alert change -> webhook latency, deliveries/s, a receiver down
# and back). See bench/README.md.
#
#   bench/run.sh [BUILD_DIR] [all|events|alerts|notify]   (normally through `make bench`: all)
#
# Builds nothing. Loopback only; bounded (events < 5 minutes, alerts < 5 minutes, notify < 7
# minutes: runs that would overrun are skipped and said so); every process it starts is stopped
# by PID on exit. Prints a
# markdown report and writes it to bench/out/results.md (the raw loadgen lines and daemon logs go
# next to it).
set -euo pipefail

BUILD=${1:-build}
SECTIONS=${2:-all}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
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

A_MODES=(new dup corr batch) # alert producers, see a_mode_args
A_FULL_MODES=(new dup corr batch) # all of them again with the store full (new RUNS times,
                                  # the others once: see a_full_runs)
A_SECONDS=5                  # one alert throughput run
A_CONNS=50                   # keep-alive connections of the single-alert producers
A_BATCH=1000                 # alerts per POST /api/v1/alerts
A_FILL=1000000               # alerts stored before the full runs (the issue's figure)
A_QUERIES=200                # GETs per list run...
A_QUERY_SECONDS=15           # ...or fewer if they take longer than this
A_BUDGET=290                 # the alerts section ends before this, in seconds from its start
A_AFTER_FILL=100             # seconds it keeps after the fill: RSS, du, lists, full runs, stop,
                             # restart
A_RESTART_MAX=40             # the restart's wait for a first answer, in seconds

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
A_T0=0 # $SECONDS when the alerts section started

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
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-bench.XXXXXX")
    TMPDIRS+=("$DATA")
    launch_daemon 100 # 10 s for the port file and a first answer
}

# launch_daemon TENTHS [soft]: starts tocsin on $DATA and waits at most TENTHS tenths of a
# second for its port file and a first answer; past that it dies, or with "soft" notes it, stops
# the daemon and returns 1.
launch_daemon() {
    local i
    rm -f "$DATA/tocsin.port" # a previous daemon's
    "$TOCSIN" serve --listen 127.0.0.1:0 --data "$DATA" --config "$WORK/tocsin.yaml" \
        >"$DATA/daemon.log" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    PORT=
    for ((i = 0; i < $1; i++)); do
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
    if [[ ${2:-} == soft ]]; then
        note "tocsin did not answer /api/v1/stats within $(($1 / 10)) s of its start"
        stop_daemon "slow-start"
        return 1
    fi
    die "tocsin did not write $DATA/tocsin.port and answer /api/v1/stats within $(($1 / 10)) s"
}

# stop_daemon LABEL [keep]: SIGTERM, wait (10 s, then SIGKILL), keep its log as
# out/daemon-LABEL.log; its data directory is removed unless "keep".
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
    [[ ${2:-} == keep ]] || rm -rf -- "$DATA"
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

# ---- alerts -------------------------------------------------------------------------------

a_mode_args() {
    case $1 in
    new) printf '%s\n' "--mode new --conns $A_CONNS" ;;
    dup) printf '%s\n' "--mode dup --conns $A_CONNS" ;;
    corr) printf '%s\n' "--mode corr --conns $A_CONNS" ;;
    batch) printf '%s\n' "--mode batch --conns 4 --batch $A_BATCH" ;;
    esac
}

a_mode_label() {
    case $1 in
    new) printf '%s\n' "new alerts: POST /alerta/alert, $A_CONNS connections" ;;
    dup) printf '%s\n' "duplicates: POST /alerta/alert, $A_CONNS connections, 4000 keys" ;;
    corr) printf '%s\n' "correlated: POST /alerta/alert, $A_CONNS connections, 4000 keys" ;;
    batch) printf '%s\n' "new alerts: POST /api/v1/alerts, 4 connections, $A_BATCH per request" ;;
    esac
}

a_mode_bar() {
    case $1/$2 in
    */new | */dup | */corr) printf '%s\n' "≥ 20,000/s" ;;
    full/batch) printf '%s\n' "≥ 200,000/s" ;;
    *) printf '%s\n' "(the bar is with 1M stored)" ;;
    esac
}

declare -A A_EPS A_P50 A_P99 A_ERR # "store/mode" -> one value per run ("na" for a failed run)
declare -A A_THR                   # "store/mode" -> each run's thread_split, "; " between runs
declare -A A_Q                     # "plain|filtered/KEY" -> the query run's KEY
A_LABELS=5         # labels per alert (0 if this build refuses them)
A_STORED_FRESH=na  # alerts stored after the fresh daemon's runs
A_FILLED=0         # alerts the fill stored (201 answers)
A_FILL_S=0         # seconds the fill took (sum of its loadgen runs)
A_FILL_ERR=0       # non-201 answers during the fill
A_RSS0=na          # MiB, the full daemon before the fill
A_RSS1=na          # MiB, after it
A_RSS2=na          # MiB, after the lists
A_ANON0=na         # MiB of A_RSS0 that is anonymous (heap, stacks)...
A_ANON1=na         # ...of A_RSS1...
A_FILE1=na         # ...and file-backed (SQLite's mmap of the database)
A_FILE2=na         # ...of A_RSS2
A_DU0=na           # KiB of its data directory before the fill
A_DU1=na           # and after
A_DB1=na           # bytes of the database file after the fill
A_WAL1=na          # bytes of its WAL file
A_HEAP=na          # alerts.heapBytes after the fill
A_STORED=na        # alerts.stored after the fill
A_RESTART_S=na     # seconds the full store's daemon took to answer after a restart
A_RESTART_N=na     # alerts it held then

# a_left: seconds left in the alerts section.
a_left() { printf '%s\n' $((A_T0 + A_BUDGET - SECONDS)); }

# a_run STORE MODE RUN PREFIX: one alert throughput run; STORE is "fresh" or "full".
a_run() {
    local store=$1 mode=$2 r=$3 prefix=$4 args line eps=na p50=na p99=na err=na rc=0 t0 thr
    read -r -a args <<<"$(a_mode_args "$mode")"
    t0=$(thread_cpu)
    run_lg $((A_SECONDS + 40)) alerts "${args[@]}" --port "$PORT" --duration "$A_SECONDS" \
        --id-prefix "$prefix" --labels "$A_LABELS" || rc=$?
    if ((rc == 0)); then
        line=$(lg_last)
        eps=$(kv alerts_per_s "$line")
        p50=$(kv p50_ms "$line")
        p99=$(kv p99_ms "$line")
        err=$(kv errors "$line")
        thr=$(thread_split "$t0" "$(thread_cpu)" "$(kv alerts "$line")")
        A_THR[$store/$mode]+="${A_THR[$store/$mode]:+; }$thr"
        say "alerts $store $mode run $r: $eps alerts/s, p50 $p50 ms, p99 $p99 ms, errors $err," \
            "stored $(kv stored "$line"), µs of CPU per alert by thread: $thr"
        [[ $err == 0 ]] || note "alerts $store $mode run $r: $err answers were not 201" \
            "(the first is in bench/out/raw.txt)"
    else
        note "alerts $store $mode run $r: loadgen failed (exit $rc, see bench/out/raw.txt)"
    fi
    A_EPS[$store/$mode]+=" $eps"
    A_P50[$store/$mode]+=" $p50"
    A_P99[$store/$mode]+=" $p99"
    A_ERR[$store/$mode]+=" $err"
}

# Runs of MODE on the full store: the single-POST bar's own mode RUNS times, as on the fresh
# store (its first run also pays the engine's index doubling past 2^20 alerts, a one-time cost
# that the report shows run by run), the others once, for the time budget.
a_full_runs() { if [[ $1 == new ]]; then printf '%s\n' "$RUNS"; else printf '1\n'; fi; }

# The parser takes "labels" as a tocsin extension; if this build refuses them, run without.
a_probe_labels() {
    if run_lg 20 alerts --mode new --port "$PORT" --conns 1 --count 1 --id-prefix probe &&
        [[ $(kv errors "$(lg_last)") == 0 ]]; then
        A_LABELS=5
    else
        A_LABELS=0
        note "alerts: a POST with 5 labels was refused; the alerts runs send attributes only"
    fi
}

# A fresh daemon: every mode RUNS times. It may use two thirds of what the fill leaves.
a_fresh() {
    local mode r end=$((A_T0 + (A_BUDGET - A_AFTER_FILL) * 2 / 3))
    start_daemon
    say "tocsin pid $DAEMON_PID on 127.0.0.1:$PORT; alerts on a fresh daemon"
    a_probe_labels
    for mode in "${A_MODES[@]}"; do
        for ((r = 1; r <= RUNS; r++)); do
            if ((SECONDS + A_SECONDS + 5 > end)); then
                note "alerts fresh $mode run $r skipped to stay within the time budget"
                continue
            fi
            a_run fresh "$mode" "$r" "fresh-$mode-$r"
        done
    done
    if run_lg 10 stats --port "$PORT"; then A_STORED_FRESH=$(kv alerts_stored "$(lg_last)"); fi
    stop_daemon "alerts-fresh"
}

# a_du: KiB under the data directory (database, WAL, everything).
a_du() { du -sk "$DATA" | awk '{print $1}'; }

# fsize FILE: its size in bytes, or "na".
fsize() { stat -c %s "$1" 2>/dev/null || printf 'na\n'; }

# Fills the store to A_FILL alerts with runs of at most 60 s, while the budget allows.
a_fill() {
    local left want line got secs t0=$SECONDS
    while ((A_FILLED < A_FILL)); do
        left=$(($(a_left) - A_AFTER_FILL))
        ((left > 10)) || break
        ((left <= 60)) || left=60
        want=$((A_FILL - A_FILLED))
        if ! run_lg $((left + 15)) alerts --mode fill --port "$PORT" --count "$want" \
            --offset "$A_FILLED" --id-prefix fill --duration "$left" --labels "$A_LABELS"; then
            note "alerts fill: loadgen failed after $A_FILLED alerts (see bench/out/raw.txt)"
            break
        fi
        line=$(lg_last)
        got=$(kv alerts "$line")
        secs=$(kv seconds "$line")
        A_FILL_ERR=$((A_FILL_ERR + $(kv errors "$line")))
        A_FILLED=$((A_FILLED + got))
        A_FILL_S=$(awk -v a="$A_FILL_S" -v b="$secs" 'BEGIN {printf "%.1f", a + b}')
        say "alerts fill: $A_FILLED of $A_FILL in $A_FILL_S s" \
            "($(kv alerts_per_s "$line") alerts/s in this run)"
        ((got > 0)) || break
    done
    ((A_FILL_ERR == 0)) || note "alerts fill: $A_FILL_ERR answers were not 201"
    ((A_FILLED >= A_FILL)) || note "alerts fill stopped at $A_FILLED of $A_FILL alerts after" \
        "$((SECONDS - t0)) s, to stay within the time budget"
}

# a_query NAME QUERY [PATH]: A_QUERIES sequential GET PATH?QUERY (PATH /alerta/alerts).
a_query() {
    local line k
    if run_lg $((A_QUERY_SECONDS + 15)) alerts --mode query --port "$PORT" \
        --count "$A_QUERIES" --duration "$A_QUERY_SECONDS" --query "$2" \
        --path "${3:-/alerta/alerts}"; then
        line=$(lg_last)
        for k in p50_ms p99_ms max_ms count total errors; do A_Q[$1/$k]=$(kv "$k" "$line"); done
        say "alerts query $1: ${A_Q[$1/count]} GETs, p50 ${A_Q[$1/p50_ms]} ms," \
            "p99 ${A_Q[$1/p99_ms]} ms, total ${A_Q[$1/total]}"
        [[ ${A_Q[$1/errors]} == 0 ]] ||
            note "alerts query $1: ${A_Q[$1/errors]} answers were not 200"
    else
        note "alerts query $1: loadgen failed (see bench/out/raw.txt)"
    fi
}

# A second daemon: RSS and disk before and after the fill, the queries, then a run of each of
# A_FULL_MODES with the store full.
a_full() {
    local mode line
    start_daemon
    say "tocsin pid $DAEMON_PID on 127.0.0.1:$PORT; filling it with $A_FILL alerts"
    sleep 2
    if run_lg 10 rss --pid "$DAEMON_PID"; then
        A_RSS0=$(kv rss_mib "$(lg_last)")
        A_ANON0=$(kv anon_mib "$(lg_last)")
    fi
    A_DU0=$(a_du)
    a_fill
    sleep 2 # the last commits, and the idle writer's checkpoint
    if run_lg 10 rss --pid "$DAEMON_PID"; then
        A_RSS1=$(kv rss_mib "$(lg_last)")
        A_ANON1=$(kv anon_mib "$(lg_last)")
        A_FILE1=$(kv file_mib "$(lg_last)")
    fi
    A_DU1=$(a_du)
    A_DB1=$(fsize "$DATA/tocsin.db")
    A_WAL1=$(fsize "$DATA/tocsin.db-wal")
    if run_lg 10 stats --port "$PORT"; then
        line=$(lg_last)
        A_STORED=$(kv alerts_stored "$line")
        A_HEAP=$(kv alerts_heap_bytes "$line")
    fi
    say "alerts full: $A_STORED stored, RSS $A_RSS0 -> $A_RSS1 MiB, data $A_DU0 -> $A_DU1 KiB"
    a_query plain "status=open&page-size=50"
    a_query filtered "status=open&page-size=50&environment=Production&severity=critical"
    a_query services "status=open" /alerta/services
    a_query tags "" /alerta/alerts/tags
    a_query top10 "status=open" /alerta/alerts/top10/count
    if run_lg 10 rss --pid "$DAEMON_PID"; then
        A_RSS2=$(kv rss_mib "$(lg_last)")
        A_FILE2=$(kv file_mib "$(lg_last)")
    fi
    for mode in "${A_FULL_MODES[@]}"; do
        for ((r = 1; r <= $(a_full_runs "$mode"); r++)); do
            if ((SECONDS + A_SECONDS + 15 > A_T0 + A_BUDGET)); then
                note "alerts full $mode run $r skipped to stay within the time budget"
                continue
            fi
            a_run full "$mode" "$r" "full-$mode-$r"
        done
    done
    stop_daemon "alerts-full" keep
    a_restart
}

# The full store's daemon started again on its data: seconds until it answers (it loads every
# alert first), and how many it holds then.
a_restart() {
    local t0
    if ((SECONDS + A_RESTART_MAX + 15 > A_T0 + A_BUDGET)); then
        note "alerts restart skipped to stay within the time budget"
        rm -rf -- "$DATA"
        return
    fi
    t0=$(date +%s%N)
    launch_daemon $((A_RESTART_MAX * 10)) soft || return 0
    A_RESTART_S=$(awk -v t="$(($(date +%s%N) - t0))" 'BEGIN {printf "%.1f", t / 1e9}')
    if run_lg 10 stats --port "$PORT"; then A_RESTART_N=$(kv alerts_stored "$(lg_last)"); fi
    say "alerts restart: answering after $A_RESTART_S s with ${A_RESTART_N:-na} alerts"
    stop_daemon "alerts-restart"
}

alerts_section() {
    A_T0=$SECONDS
    say "alerts: a fresh daemon ($A_SECONDS s runs, medians of $RUNS), then a fill to $A_FILL"
    a_fresh
    a_full
}

# num V: true when V is a non-negative number.
num() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }

# minus A B: A - B with one decimal, or "na".
minus() {
    if num "$1" && num "$2"; then
        awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f\n", a - b}'
    else
        printf 'na\n'
    fi
}

# per_alert DELTA UNIT: DELTA * UNIT bytes over the alerts filled, or "na".
per_alert() {
    if [[ $1 =~ ^-?[0-9]+([.][0-9]+)?$ ]] && ((A_FILLED > 0)); then
        awk -v d="$1" -v u="$2" -v n="$A_FILLED" 'BEGIN {printf "%.0f\n", d * u / n}'
    else
        printf 'na\n'
    fi
}

# mib BYTES: in MiB with one decimal, or "na".
mib() {
    if num "$1"; then awk -v b="$1" 'BEGIN {printf "%.1f\n", b / 1048576}'; else printf 'na\n'; fi
}

# sum V...: sum of the integer arguments ("na" ignored).
sum() {
    local s=0 x
    for x in "$@"; do [[ $x =~ ^[0-9]+$ ]] && s=$((s + x)); done
    printf '%s\n' "$s"
}

report_alerts() {
    local store mode e heap runs rate
    heap=na
    if [[ $A_HEAP =~ ^[0-9]+$ && $A_STORED =~ ^[1-9][0-9]*$ ]]; then heap=$((A_HEAP / A_STORED)); fi
    rate=$(awk -v n="$A_FILLED" -v s="$A_FILL_S" 'BEGIN {printf "%.0f", (s > 0 ? n / s : 0)}')
    cat <<EOF

### Alerts: throughput

Alerta alerts with 5 attributes and $A_LABELS labels (about 500 bytes of JSON each), on a daemon
with \`store.durability: batch\`; every answer comes after the store commit. A run is closed-loop:
each connection sends, waits for the answer and sends again, for $A_SECONDS s. Alerts/s counts
alerts answered 201; any other answer is counted under errors. p50 and p99 are per request.
*fresh* is a new daemon (it holds $A_STORED_FRESH alerts after its runs; figures are medians of
$RUNS runs); *full* is a second daemon after the fill below (new alerts $RUNS runs, the others one
run each; every full run is listed under the table). The bars are the issue's, reported here,
not asserted.

| store | producer | alerts/s | p50 (ms) | p99 (ms) | errors | runs ok | bar |
|---|---|---:|---:|---:|---:|---:|---|
EOF
    for store in fresh full; do
        for mode in "${A_MODES[@]}"; do
            runs=$RUNS
            [[ $store == full ]] && runs=$(a_full_runs "$mode")
            [[ -n ${A_EPS[$store/$mode]:-} ]] || continue
            e=${A_EPS[$store/$mode]}
            # shellcheck disable=SC2086 # word splitting of the run lists is wanted
            printf '| %s | %s | %s | %s | %s | %s | %s/%s | %s |\n' "$store" \
                "$(a_mode_label "$mode")" "$(round "$(median $e)")" \
                "$(median ${A_P50[$store/$mode]})" "$(median ${A_P99[$store/$mode]})" \
                "$(sum ${A_ERR[$store/$mode]})" "$(count_ok $e)" "$runs" \
                "$(a_mode_bar "$store" "$mode")"
        done
    done
    printf '\nThe full store run by run (alerts/s, in order):'
    for mode in "${A_FULL_MODES[@]}"; do
        [[ -n ${A_EPS[full/$mode]:-} ]] || continue
        # shellcheck disable=SC2086 # word splitting of the run list is wanted
        printf ' %s %s;' "$mode" "$(printf '%s / ' ${A_EPS[full/$mode]} | sed 's| / $||')"
    done
    printf " the first new run pays for any doubling of the engine's hash indexes that its alerts\n"
    printf 'cross: the 1,048,577th alert doubles them (docs/performance.md).\n\n'
    printf "The daemon's CPU per alert by thread (µs; \`tocsin\` is the network thread, \`tocsin-maint\` the\n"
    printf 'checkpoints), read from /proc around each run, run by run:\n\n'
    for store in fresh full; do
        for mode in "${A_MODES[@]}"; do
            [[ -n ${A_THR[$store/$mode]:-} ]] || continue
            printf -- '- %s %s: %s\n' "$store" "$mode" "${A_THR[$store/$mode]}"
        done
    done
    cat <<EOF

### Alerts: a million stored

The fill posts distinct alerts in arrays of $A_BATCH over 4 connections, in loadgen runs of at
most 60 s. RSS is the daemon's VmRSS, 2 s after its start and 2 s after the fill; per alert is
the difference divided by the alerts filled. Its anonymous part is the heap (alert records,
indexes, SQLite's page caches, allocator slack); its file-backed part is the executable's and
the libraries' pages (SQLite reads the database with \`pread\`, not through mmap). Disk is
\`du\` of the data directory (database and WAL).
The lists are $A_QUERIES sequential \`GET /alerta/alerts?status=open&page-size=50\` (at most
$A_QUERY_SECONDS s), the second with \`&environment=Production&severity=critical\`, with
$A_STORED alerts stored; the facets are as many \`GET /alerta/services?status=open\`,
\`GET /alerta/alerts/tags\` and \`GET /alerta/alerts/top10/count?status=open\` (what Alerta's
console asks). The restart is the same daemon stopped (SIGTERM) after the full runs
and started again on its data: it loads every alert before it listens.

| figure | measured | bar |
|---|---:|---|
EOF
    printf '| fill | %s alerts in %s s (%s alerts/s) | 1,000,000 stored |\n' "$A_FILLED" \
        "$A_FILL_S" "$rate"
    printf '| RSS before / after the fill / after the lists (MiB) | %s / %s / %s | |\n' \
        "$A_RSS0" "$A_RSS1" "$A_RSS2"
    printf '| file-backed part of it after the fill / after the lists (MiB) | %s / %s | |\n' \
        "$A_FILE1" "$A_FILE2"
    printf '| RSS per alert (bytes) | %s | < 1024 |\n' \
        "$(per_alert "$(minus "$A_RSS1" "$A_RSS0")" 1048576)"
    printf '| anonymous RSS per alert (bytes) | %s | |\n' \
        "$(per_alert "$(minus "$A_ANON1" "$A_ANON0")" 1048576)"
    printf '| alert records in the engine, heapBytes / stored (bytes) | %s | |\n' "$heap"
    printf '| disk per alert: data directory / database file alone (bytes) | %s / %s | |\n' \
        "$(per_alert "$(minus "$A_DU1" "$A_DU0")" 1024)" "$(per_alert "$A_DB1" 1)"
    printf '| database file / WAL file after the fill (MiB) | %s / %s | |\n' \
        "$(mib "$A_DB1")" "$(mib "$A_WAL1")"
    printf '| list 50 open: p50 / p99 / max (ms) | %s / %s / %s | p99 < 20 ms |\n' \
        "${A_Q[plain/p50_ms]:-na}" "${A_Q[plain/p99_ms]:-na}" "${A_Q[plain/max_ms]:-na}"
    printf '| list 50 open, Production and critical: p50 / p99 / max (ms) | %s / %s / %s | |\n' \
        "${A_Q[filtered/p50_ms]:-na}" "${A_Q[filtered/p99_ms]:-na}" "${A_Q[filtered/max_ms]:-na}"
    printf '| services of the open alerts / tags: p50 / p99 / max (ms) | %s / %s / %s; %s / %s / %s | |\n' \
        "${A_Q[services/p50_ms]:-na}" "${A_Q[services/p99_ms]:-na}" "${A_Q[services/max_ms]:-na}" \
        "${A_Q[tags/p50_ms]:-na}" "${A_Q[tags/p99_ms]:-na}" "${A_Q[tags/max_ms]:-na}"
    printf '| top10 of the open alerts: p50 / p99 / max (ms) | %s / %s / %s | |\n' \
        "${A_Q[top10/p50_ms]:-na}" "${A_Q[top10/p99_ms]:-na}" "${A_Q[top10/max_ms]:-na}"
    printf '| restart with the store full: seconds until it answers; alerts it holds then | %s; %s | |\n' \
        "${A_RESTART_S:-na}" "${A_RESTART_N:-na}"
    printf '| GETs done; total answered (plain, filtered) | %s, %s; %s, %s | |\n' \
        "${A_Q[plain/count]:-na}" "${A_Q[filtered/count]:-na}" "${A_Q[plain/total]:-na}" \
        "${A_Q[filtered/total]:-na}"
}

report() {
    local cpu rev
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || printf 'uncommitted')
    printf '## Benchmark results\n\n'
    printf '%s, tocsin %s, %s, %s cores (shared), %s. Loopback only.\n' \
        "$(date -u +%Y-%m-%dT%H:%MZ)" "$rev" "${cpu:-unknown CPU}" "$(nproc)" "$(uname -sr)"
    printf 'Every figure is the median of %d runs unless said otherwise. Wall time %d s.\n' \
        "$RUNS" "$SECONDS"
    [[ $SECTIONS != all && $SECTIONS != events ]] || report_events
    [[ $SECTIONS != all && $SECTIONS != alerts ]] || report_alerts
    [[ $SECTIONS != all && $SECTIONS != notify ]] || report_notify
    if ((${#NOTES[@]} > 0)); then
        printf '\n### Notes\n\n'
        printf -- '- %s\n' "${NOTES[@]}"
    fi
}

report_events() {
    local n mode e p
    printf '\n'
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
}

# ---- notifications ------------------------------------------------------------------------

NOTIFY_RC=na

# bench/notify.sh in the foreground: it starts and stops its own daemon and receiver, and writes
# bench/out/notify.md.
notify_section() {
    NOTIFY_RC=0
    rm -f -- "$OUT/notify.md"
    "$HERE/notify.sh" "$BUILD" || NOTIFY_RC=$?
    ((NOTIFY_RC == 0)) || note "notify: bench/notify.sh failed (exit $NOTIFY_RC)"
}

report_notify() {
    printf '\n'
    if [[ -s $OUT/notify.md ]]; then
        # one heading level down, under this report's title
        sed -e 's/^### /#### /' -e 's/^## /### /' "$OUT/notify.md"
    else
        printf '### Notification benchmark\n\nNo result (bench/notify.sh exit %s).\n' "$NOTIFY_RC"
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
    case $SECTIONS in
    all | events | alerts | notify) ;;
    *) die "unknown section '$SECTIONS': all, events, alerts or notify" ;;
    esac
    say "tocsin benchmark: $(nproc) cores, loopback, ${RUN_SECONDS} s runs, medians of $RUNS"
    if [[ $SECTIONS == all || $SECTIONS == events ]]; then
        throughput
        latency_runs
    fi
    [[ $SECTIONS != all && $SECTIONS != alerts ]] || alerts_section
    [[ $SECTIONS != all && $SECTIONS != notify ]] || notify_section
    report >"$WORK/results.md"
    cp "$WORK/results.md" "$OUT/results.md"
    printf '\n'
    cat "$OUT/results.md"
    say "written to $OUT/results.md (raw lines: $RAW)"
}

main
