#!/usr/bin/env bash
# tocsin notification benchmark (issue 4, item 7): notifications/s through the webhook channel
# to a local receiver (tocsin-receiver) with 1,000 rules and 100,000 active alerts, and the
# delay from an alert change to its webhook delivery. Meant to be called from bench/run.sh.
#
#   bench/notify.sh [BUILD_DIR]        (environment: NB_RULES, NB_ALERTS, NB_RATE, NB_RATE_S,
#                                        NB_MAX_S, NB_FANOUT, NB_KEYS: see the defaults below)
#
# Phases, on one daemon (store.durability: batch, so the outbox is durable):
#   setup    a webhook channel "bench" to the receiver, whose X-Bench-Sent-Ns header carries the
#            alert's attributes.sent_ns; NB_RULES rules, of which 1 + NB_FANOUT can match
#   fill     NB_ALERTS alerts with `tocsin-loadgen alerts --mode fill` (no rule fires on them)
#   rate     NB_RATE alert changes/s for NB_RATE_S s over NB_KEYS alerts (create, then severity
#            flips), each stamped with attributes.sent_ns = CLOCK_REALTIME ns just before its POST;
#            one rule fires per change: the receiver's histogram is change -> delivery
#   max      `tocsin-loadgen alerts --mode corr` (50 connections, closed loop) for NB_MAX_S s;
#            NB_FANOUT rules fire on each Production severity change: deliveries/s
# After each load phase the receiver is given up to NB_DRAIN_S s to see every delivery.
#
# Builds nothing. Loopback only; bounded (about 3 minutes at worst); every process it starts is
# stopped by PID on exit. Prints a markdown report, written to bench/out/notify.md (raw lines in
# bench/out/notify-raw.txt, the daemon's log in bench/out/daemon-notify.log).
#
# TODO(lead): the channel and rule API (/api/v1/channels, /api/v1/rules) is written against the
# plan in docs/notify-plan.md and issue 4; every place to confirm is marked TODO(lead).
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out
TOCSIN=$BUILD/tocsin
LOADGEN=$BUILD/tocsin-loadgen
RECEIVER=$BUILD/tocsin-receiver

NB_RULES=${NB_RULES:-1000}     # rules in all
NB_FANOUT=${NB_FANOUT:-4}      # rules that fire on each Production severity change (max phase)
NB_ALERTS=${NB_ALERTS:-100000} # alerts stored by the fill
NB_RATE=${NB_RATE:-1000}       # changes/s in the rate phase
NB_RATE_S=${NB_RATE_S:-10}     # its length
NB_KEYS=${NB_KEYS:-1000}       # alerts it changes (the first change of each is its create)
NB_MAX_S=${NB_MAX_S:-10}       # length of the max phase
NB_DRAIN_S=${NB_DRAIN_S:-30}   # longest wait for the receiver to see every delivery
BUDGET=${NB_BUDGET:-240}       # the receiver and the daemon never outlive this (s)

PIDS=()
TMPDIRS=()
NOTES=()
WORK=
DATA=
PORT=
DAEMON_PID=
RX_PID=
RX_PORT=
RX_OUT=
RAW=$OUT/notify-raw.txt

say() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}
note() {
    say "warning: $*"
    NOTES+=("$*")
}

cleanup() {
    local p d i alive
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 50; i++)); do
        alive=0
        for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -KILL "$p" 2>/dev/null || true; done
    for d in ${TMPDIRS[@]+"${TMPDIRS[@]}"}; do rm -rf -- "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
    local keep=() p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=(${keep[@]+"${keep[@]}"})
}

# kv KEY LINE: the value of KEY=... in a key=value line, or "na".
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

# jv KEY JSON: the number KEY in the receiver's one-line JSON summary, or "na".
jv() {
    local v
    v=$(sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2")
    printf '%s\n' "${v:-na}"
}

# ---- receiver ---------------------------------------------------------------------------------

start_receiver() {
    local i
    RX_OUT=$WORK/receiver.out
    "$RECEIVER" --duration "$BUDGET" >"$RX_OUT" 2>"$WORK/receiver.err" &
    RX_PID=$!
    PIDS+=("$RX_PID")
    for ((i = 0; i < 50; i++)); do
        RX_PORT=$(head -n 1 "$RX_OUT" | tr -dc '0-9')
        [[ -n $RX_PORT ]] && return 0
        kill -0 "$RX_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/receiver.err" >&2
    die "tocsin-receiver did not print its port within 5 s"
}

# rx_summary [USR1|USR2]: the receiver's summary line now (USR2 also starts a new phase).
rx_summary() {
    local sig=${1:-USR1} n i
    n=$(wc -l <"$RX_OUT")
    kill -"$sig" "$RX_PID"
    for ((i = 0; i < 50; i++)); do
        (($(wc -l <"$RX_OUT") > n)) && break
        sleep 0.02
    done
    tail -n 1 "$RX_OUT"
}

# drain EXPECTED: waits until the receiver counted EXPECTED requests (EXPECTED 0: until its count
# has not moved for 2 s), at most NB_DRAIN_S s. Prints the last count.
drain() {
    local want=$1 t0=$SECONDS count=0 last=-1 still=0
    while ((SECONDS - t0 < NB_DRAIN_S)); do
        count=$(jv count "$(rx_summary USR1)")
        if ((want > 0 && count >= want)); then break; fi
        if ((want == 0)); then
            if ((count == last)); then still=$((still + 1)); else still=0; fi
            ((still < 4)) || break
        fi
        last=$count
        sleep 0.5
    done
    printf '%s\n' "$count"
}

# ---- daemon -----------------------------------------------------------------------------------

start_daemon() {
    local i
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-notify.XXXXXX")
    TMPDIRS+=("$DATA")
    # TODO(lead): notifier options as the notifier lands (per-channel concurrency, rate limit)
    cat >"$WORK/tocsin.yaml" <<EOF
log:
  level: warn
store:
  durability: batch
notify:
  concurrency: 256
  timeout: 5s
EOF
    timeout -k 5 "$BUDGET" "$TOCSIN" serve --listen 127.0.0.1:0 --data "$DATA" \
        --config "$WORK/tocsin.yaml" >"$DATA/daemon.log" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    PORT=
    for ((i = 0; i < 100; i++)); do
        if [[ -z $PORT && -s $DATA/tocsin.port ]]; then
            PORT=$(tr -dc '0-9' <"$DATA/tocsin.port")
        fi
        if [[ -n $PORT ]] && "$LOADGEN" stats --port "$PORT" >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$DATA/daemon.log" >&2
    die "tocsin did not write its port and answer /api/v1/stats within 10 s"
}

stop_daemon() {
    local rc=0 i errs
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$DAEMON_PID" 2>/dev/null && note "tocsin was still running 10 s after SIGTERM"
    wait "$DAEMON_PID" 2>/dev/null || rc=$?
    forget_pid "$DAEMON_PID"
    ((rc == 0)) || note "tocsin exited with status $rc after SIGTERM"
    cp "$DATA/daemon.log" "$OUT/daemon-notify.log"
    errs=$(grep -c 'level=error' "$DATA/daemon.log" || true)
    ((errs == 0)) || note "tocsin logged $errs error-level lines (bench/out/daemon-notify.log)"
}

# run_lg LIMIT_S ARGS...: tocsin-loadgen, killed after LIMIT_S s; stdout in $WORK/lg.out.
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

# nb ARGS...: the Python helper below (API set-up and the fixed-rate change sender), bounded.
run_nb() {
    local limit=$1 rc=0 pid
    shift
    timeout -k 5 "$limit" /usr/bin/python3 "$WORK/nb.py" --port "$PORT" "$@" \
        >"$WORK/nb.out" 2>"$WORK/nb.err" &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || rc=$?
    forget_pid "$pid"
    {
        printf '$ nb.py %s   # exit %d\n' "$*" "$rc"
        cat "$WORK/nb.out" "$WORK/nb.err"
    } >>"$RAW"
    if ((rc != 0)); then sed 's/^/      /' "$WORK/nb.err" >&2; fi
    return "$rc"
}

write_helper() {
    cat >"$WORK/nb.py" <<'PY'
"""API set-up and the fixed-rate change sender of bench/notify.sh (stdlib only, loopback)."""
import argparse
import http.client
import json
import sys
import threading
import time

# The events tocsin-loadgen's alerts use (bench/loadgen.c k_event): the max-phase rules match
# one each. The rate phase uses an event of its own.
LOADGEN_EVENTS = ["HighCPU", "DiskFull", "NodeDown", "HighLatency"]
RATE_EVENT = "BenchLatency"


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def call(c, method, path, body):
    data = json.dumps(body).encode()
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


def setup(a):
    c = conn(a.port)
    # TODO(lead): confirm the channel API and the webhook config shape (headers as a list of
    # {name, value}, templates in {{...}}).
    channel = {"id": "bench", "type": "webhook", "config": {
        "url": f"http://127.0.0.1:{a.receiver_port}/hook",
        "headers": [{"name": "X-Bench-Sent-Ns", "value": "{{alert.attributes.sent_ns}}"}]}}
    st, body = call(c, "POST", "/api/v1/channels", channel)
    if st not in (200, 201):
        sys.exit(f"POST /api/v1/channels: {st} {body[:300]!r}")
    # TODO(lead): confirm the rule API, the "on" names and the matcher-string syntax.
    rules = [{"id": "r0000", "on": ["create", "stateinc", "statedec", "resolve"],
              "match": ['environment="Production"', f'event="{RATE_EVENT}"'],
              "channels": ["bench"]}]
    for k in range(a.fanout):  # fire on Production severity changes only, not the fill's creates
        rules.append({"id": f"r{k + 1:04d}", "on": ["stateinc", "statedec"],
                      "match": ['environment="Production"',
                                f'event=~"{"|".join(LOADGEN_EVENTS)}"',
                                f'severity!="fanout-{k}"'],
                      "channels": ["bench"]})
    for i in range(len(rules), a.rules):  # distinct, never matching, of varied shapes
        shape = i % 4
        if shape == 0:
            m = ['environment="Production"', f'resource="no-such-resource-{i}"']
        elif shape == 1:
            m = [f'team="nobody-{i}"']
        elif shape == 2:
            m = [f'severity=~"sev{i}a|sev{i}b"', 'environment!="Development"']
        else:
            m = ['environment="Production"', f'attributes.region="nowhere-{i}"']
        rules.append({"id": f"r{i:04d}", "on": ["create", "stateinc", "statedec", "resolve"],
                      "match": m, "channels": ["bench"]})
    for r in rules:
        st, body = call(c, "POST", "/api/v1/rules", r)
        if st not in (200, 201):
            sys.exit(f"POST /api/v1/rules {r['id']}: {st} {body[:300]!r}")
    print(f"channels=1 rules={len(rules)} matching={1 + a.fanout}")


def changes(a):
    """rate changes/s for seconds s over keys alerts, on conns connections, paced on an
    absolute schedule (a late send is sent at once and counted as late)."""
    total = int(a.rate * a.seconds)
    stats = {"sent": 0, "ok": 0, "errors": 0, "late": 0, "first_error": ""}
    lock = threading.Lock()
    t0 = time.monotonic() + 0.2

    def worker(w):
        c = conn(a.port)
        sent = ok = errors = late = 0
        err = ""
        for i in range(w, total, a.conns):
            due = t0 + i / a.rate
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            elif d < -0.01:
                late += 1
            k, flip = i % a.keys, (i // a.keys) % 2
            body = {"resource": f"nb-{k}", "event": RATE_EVENT, "environment": "Production",
                    "severity": "major" if flip else "critical", "service": ["bench"],
                    "origin": "notify.sh",
                    "attributes": {"sent_ns": str(time.time_ns())}}
            try:
                st, text = call(c, "POST", "/alerta/alert", body)
            except (OSError, http.client.HTTPException) as e:
                st, text = 0, str(e).encode()
                c.close()
                c = conn(a.port)
            sent += 1
            if 200 <= st < 300:
                ok += 1
            else:
                errors += 1
                err = err or f"{st} {text[:200]!r}"
        with lock:
            for key, v in (("sent", sent), ("ok", ok), ("errors", errors), ("late", late)):
                stats[key] += v
            stats["first_error"] = stats["first_error"] or err

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(a.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    print(f"sent={stats['sent']} ok={stats['ok']} errors={stats['errors']} "
          f"late={stats['late']} seconds={secs:.2f} rate={stats['sent'] / secs:.0f}")
    if stats["first_error"]:
        print(f"first error: {stats['first_error']}", file=sys.stderr)


p = argparse.ArgumentParser()
p.add_argument("cmd", choices=["setup", "changes"])
p.add_argument("--port", type=int, required=True)
p.add_argument("--receiver-port", type=int, default=0)
p.add_argument("--rules", type=int, default=1000)
p.add_argument("--fanout", type=int, default=4)
p.add_argument("--rate", type=float, default=1000)
p.add_argument("--seconds", type=float, default=10)
p.add_argument("--keys", type=int, default=1000)
p.add_argument("--conns", type=int, default=4)
a = p.parse_args()
if not (a.port and 1 <= a.rules <= 100000 and 0 <= a.fanout < a.rules and 0 < a.rate <= 20000
        and 0 < a.seconds <= 60 and a.keys >= 1 and 1 <= a.conns <= 32):
    sys.exit("nb.py: option out of range")
setup(a) if a.cmd == "setup" else changes(a)
PY
}

# ---- phases -----------------------------------------------------------------------------------

FILL_LINE=
FILL_NOTIFIED=na
RATE_LINE=
RATE_RX=
RATE_EXPECTED=na
RATE_SEEN=na
MAX_LINE=
MAX_RX=

phase_setup() {
    run_nb 120 setup --receiver-port "$RX_PORT" --rules "$NB_RULES" --fanout "$NB_FANOUT" ||
        die "setting up the channel and $NB_RULES rules failed (see bench/out/notify-raw.txt)"
    say "$(cat "$WORK/nb.out")"
}

phase_fill() {
    if run_lg 75 alerts --mode fill --port "$PORT" --count "$NB_ALERTS" --id-prefix fill \
        --duration 60; then
        FILL_LINE=$(tail -n 1 "$WORK/lg.out")
        say "fill: $(kv alerts "$FILL_LINE") alerts in $(kv seconds "$FILL_LINE") s"
        (($(kv alerts "$FILL_LINE") >= NB_ALERTS)) ||
            note "the fill stored $(kv alerts "$FILL_LINE") of $NB_ALERTS alerts within 60 s"
    else
        note "the fill failed (see bench/out/notify-raw.txt)"
    fi
    FILL_NOTIFIED=$(drain 0)
    ((FILL_NOTIFIED == 0)) || note "the fill caused $FILL_NOTIFIED webhook deliveries (none expected)"
    rx_summary USR2 >/dev/null
}

phase_rate() {
    say "rate: $NB_RATE changes/s for $NB_RATE_S s over $NB_KEYS alerts"
    if run_nb $((NB_RATE_S + 30)) changes --rate "$NB_RATE" --seconds "$NB_RATE_S" \
        --keys "$NB_KEYS" --conns 16; then
        RATE_LINE=$(cat "$WORK/nb.out")
        RATE_EXPECTED=$(kv ok "$RATE_LINE")
        (($(kv late "$RATE_LINE") == 0)) ||
            note "rate: $(kv late "$RATE_LINE") changes were sent over 10 ms late (the daemon" \
                "answered slowly or the sender was starved)"
    else
        note "rate: the change sender failed (see bench/out/notify-raw.txt)"
        RATE_EXPECTED=0
    fi
    RATE_SEEN=$(drain "$RATE_EXPECTED")
    RATE_RX=$(rx_summary USR2)
    ((RATE_SEEN == RATE_EXPECTED)) ||
        note "rate: the receiver saw $RATE_SEEN deliveries for $RATE_EXPECTED changes" \
            "within $NB_DRAIN_S s"
    say "rate: $RATE_LINE; receiver $RATE_RX"
}

phase_max() {
    say "max: tocsin-loadgen alerts --mode corr, 50 connections, $NB_MAX_S s"
    if run_lg $((NB_MAX_S + 40)) alerts --mode corr --port "$PORT" --conns 50 \
        --duration "$NB_MAX_S" --id-prefix maxrate; then
        MAX_LINE=$(tail -n 1 "$WORK/lg.out")
    else
        note "max: loadgen failed (see bench/out/notify-raw.txt)"
    fi
    drain 0 >/dev/null
    MAX_RX=$(rx_summary USR2)
    say "max: $MAX_LINE; receiver $MAX_RX"
}

report() {
    local rev
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || printf 'uncommitted')
    cat <<EOF
## Notification benchmark

$(date -u +%Y-%m-%dT%H:%MZ), tocsin $rev, $(nproc) cores (shared). Loopback only. One daemon
(\`store.durability: batch\`), $NB_RULES rules, a webhook channel to \`tocsin-receiver\`,
$(kv alerts "$FILL_LINE") alerts stored by the fill before the runs.

| phase | load | deliveries | deliveries/s | p50 (µs) | p99 (µs) | max (µs) | bar |
|---|---|---:|---:|---:|---:|---:|---|
EOF
    printf '| rate | %s changes/s for %s s (%s sent, %s answered 2xx) | %s | %s | %s | %s | %s | p99 < 3 ms |\n' \
        "$NB_RATE" "$NB_RATE_S" "$(kv sent "$RATE_LINE")" "$RATE_EXPECTED" \
        "$(jv count "$RATE_RX")" "$(jv rps "$RATE_RX")" "$(jv p50_us "$RATE_RX")" \
        "$(jv p99_us "$RATE_RX")" "$(jv max_us "$RATE_RX")"
    printf '| max | loadgen corr, 50 conns, %s s (%s changes/s), %s rules per Production change | %s | %s | | | | ≥ 10,000/s |\n' \
        "$NB_MAX_S" "$(kv alerts_per_s "$MAX_LINE")" "$NB_FANOUT" "$(jv count "$MAX_RX")" \
        "$(jv rps "$MAX_RX")"
    cat <<EOF

*rate*: each change is stamped with \`attributes.sent_ns\` (CLOCK_REALTIME) just before its POST;
the channel copies it into \`X-Bench-Sent-Ns\` and the receiver records now − sent, so the delay
includes the ingest request. *deliveries/s* is the receiver's count over the time from its first
to its last delivery of the phase. Deliveries caused by the fill: $FILL_NOTIFIED (none expected).
EOF
    if ((${#NOTES[@]} > 0)); then
        printf '\n### Notes\n\n'
        printf -- '- %s\n' "${NOTES[@]}"
    fi
}

main() {
    local b
    for b in "$TOCSIN" "$LOADGEN" "$RECEIVER"; do
        [[ -x $b ]] || die "$b not found: build first (make build)"
    done
    mkdir -p "$OUT"
    : >"$RAW"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-notify-work.XXXXXX")
    TMPDIRS+=("$WORK")
    write_helper
    start_receiver
    start_daemon
    say "tocsin pid $DAEMON_PID on 127.0.0.1:$PORT, receiver pid $RX_PID on 127.0.0.1:$RX_PORT"
    phase_setup
    phase_fill
    phase_rate
    phase_max
    stop_daemon
    report >"$WORK/notify.md"
    cp "$WORK/notify.md" "$OUT/notify.md"
    printf '\n'
    cat "$OUT/notify.md"
    say "written to $OUT/notify.md (raw lines: $RAW)"
}

main
