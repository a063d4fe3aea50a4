#!/usr/bin/env bash
# tocsin notification benchmark (issue 4, item 7): the delay from an alert change to its webhook
# delivery, webhook deliveries/s to a local receiver (tocsin-receiver) with 1,000 rules and
# 100,000 active alerts, and a receiver that goes down and comes back. Called by bench/run.sh
# (part "notify"), or on its own:
#
#   bench/notify.sh [BUILD_DIR]        (environment: NB_RULES, NB_ALERTS, NB_RUNS, NB_RATE,
#                                        NB_RATE_S, NB_KEYS, NB_MAX_S, NB_FANOUT, NB_DOWN_S,
#                                        NB_ORDER_ALERTS, NB_ORDER_CHANGES, NB_CONCURRENCY,
#                                        NB_THREADS: defaults below; NB_CONCURRENCY is the
#                                        daemon's notify.concurrency, 256; NB_THREADS its
#                                        notify.threads, the daemon's default when unset)
#
# Phases, on one daemon (store.durability: batch, so the outbox is durable; notify.* defaults
# but for concurrency, NB_CONCURRENCY):
#   setup    webhook channels "bench" and "order" to the receiver; "bench" copies the alert's
#            attributes.sent_ns into X-Bench-Sent-Ns, "order" puts "<resource> <attributes.seq>"
#            into X-Bench-Tag. NB_RULES rules: 1 for the rate phase, NB_FANOUT for the max phase,
#            1 for the order phase, the rest distinct and never matching.
#   fill     NB_ALERTS alerts with `tocsin-loadgen alerts --mode fill` (no rule fires on them)
#   rate     NB_RUNS times: `tocsin-loadgen alerts --mode paced`, NB_RATE alert changes/s for
#            NB_RATE_S s over NB_KEYS new alerts (create, then severity flips), each stamped with attributes.sent_ns =
#            CLOCK_REALTIME ns just before its POST; one rule fires per change: the receiver's
#            histogram is change -> delivery (bar: p99 < 3 ms)
#   max      NB_RUNS times: `tocsin-loadgen alerts --mode corr` (50 connections, closed loop) for
#            NB_MAX_S s on new keys; NB_FANOUT rules fire on each of its severity changes (every
#            change loadgen makes): deliveries/s at the receiver (bar: >= 10,000/s)
#   sustain  NB_RUNS times: `tocsin-loadgen alerts --mode paced`, NB_SUSTAIN changes/s for
#            NB_SUSTAIN_S s over 250 alerts whose event the NB_FANOUT rules match: NB_SUSTAIN x
#            NB_FANOUT deliveries/s asked for (10,000/s by default); deliveries/s at the receiver
#            and the change -> delivery delay of every delivery (does it keep up?)
#   down     NB_ORDER_ALERTS alerts created and delivered; the receiver is stopped for NB_DOWN_S
#            s, during which each alert changes NB_ORDER_CHANGES - 1 more times (one connection,
#            so the daemon sees them in order); the receiver comes back on the same port and the
#            bench waits for the backlog. The receiver logs every request's
#            X-Tocsin-Notification and X-Bench-Tag (--log): every key must be seen exactly once
#            and each alert's changes in order. (The issue says 10 minutes down; the bench does
#            NB_DOWN_S, 60 s by default, to stay bounded.)
# After each load phase the receiver is given up to NB_DRAIN_S s to see every delivery.
#
# Builds nothing. Loopback only; bounded (about 6 minutes at worst, NB_BUDGET); every process it
# starts is stopped by PID on exit (the daemon is started directly, so its PID is the daemon's).
# Prints a markdown report, written to bench/out/notify.md (raw lines in
# bench/out/notify-raw.txt, the daemon's log in bench/out/daemon-notify.log, the receiver's
# request log of the down phase in bench/out/notify-order.log).
set -euo pipefail

BUILD=${1:-build}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
OUT=$HERE/out
TOCSIN=$BUILD/tocsin
LOADGEN=$BUILD/tocsin-loadgen
RECEIVER=$BUILD/tocsin-receiver

NB_RULES=${NB_RULES:-1000}     # rules in all
NB_FANOUT=${NB_FANOUT:-8}      # rules that fire on each severity change of the max phase
NB_ALERTS=${NB_ALERTS:-100000} # alerts stored by the fill
NB_RUNS=${NB_RUNS:-3}          # runs of the rate and max phases (medians)
NB_RATE=${NB_RATE:-1000}       # changes/s in the rate phase
NB_RATE_S=${NB_RATE_S:-10}     # its length
NB_KEYS=${NB_KEYS:-1000}       # alerts it changes (the first change of each is its create)
NB_MAX_S=${NB_MAX_S:-10}       # length of the max phase
NB_MAX_RUNS=${NB_MAX_RUNS:-$NB_RUNS} # runs of the max phase (0: none)
NB_SUSTAIN=${NB_SUSTAIN:-1250} # changes/s of the sustain phase (x NB_FANOUT deliveries; 0: none)
NB_SUSTAIN_S=${NB_SUSTAIN_S:-10} # its length
NB_DOWN_S=${NB_DOWN_S:-60}     # how long the receiver is down (0: no down phase)
NB_ORDER_ALERTS=${NB_ORDER_ALERTS:-200}  # alerts of the down phase
NB_ORDER_CHANGES=${NB_ORDER_CHANGES:-5}  # changes of each (the create included)
NB_DRAIN_S=${NB_DRAIN_S:-30}   # longest wait for the receiver to see every delivery
BUDGET=${NB_BUDGET:-600}       # the receiver never outlives this (s); phases check it too

PIDS=()
TMPDIRS=()
NOTES=()
WORK=
DATA=
PORT=
DAEMON_PID=
RX_PID=
RX_PORT=0
RX_OUT=
RX_LOG=
RAW=$OUT/notify-raw.txt

cleanup() {
    local p d i alive
    for p in ${PIDS[@]+"${PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 100; i++)); do
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

# jv KEY JSON: the number KEY in the receiver's one-line JSON summary, or "na".
jv() {
    local v
    v=$(sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2")
    printf '%s\n' "${v:-na}"
}

# cpu_ms: CPU time (user + system) the daemon has used so far, in ms.
cpu_ms() {
    awk -v hz="$(getconf CLK_TCK)" '{printf "%d\n", ($14 + $15) * 1000 / hz}' \
        "/proc/$DAEMON_PID/stat" 2>/dev/null || printf '0\n'
}

# per_delivery CPU_MS COUNT: µs of daemon CPU per delivery, or "na".
per_delivery() {
    if [[ $1 =~ ^[0-9]+$ && $2 =~ ^[1-9][0-9]*$ ]]; then
        awk -v c="$1" -v n="$2" 'BEGIN {printf "%.0f\n", c * 1000 / n}'
    else
        printf 'na\n'
    fi
}

# left: seconds of the budget left.
left() { printf '%s\n' $((BUDGET - SECONDS)); }

# ---- what else runs on the machine ------------------------------------------------------------

OTHERS_PID=
OTHERS_FILE=

# others_start TAG: samples the busiest processes (top, 2 s into the phase) in the background.
others_start() {
    OTHERS_FILE=$WORK/others-$1.txt
    top -b -c -n 2 -d 2 -w 250 >"$OTHERS_FILE" 2>/dev/null &
    OTHERS_PID=$!
    PIDS+=("$OTHERS_PID")
}

# others_end TAG: the busiest processes not started by this script (second top frame), one
# line: "<executable> <%cpu>%, ...", also appended to the raw log with the load average.
others_end() {
    local line
    wait "$OTHERS_PID" 2>/dev/null || true
    forget_pid "$OTHERS_PID"
    line=$(awk -v work="$WORK" -v build="$BUILD" '
        /^top -/ {frame++}
        frame == 2 && /^ *[0-9]+ / && $9 + 0 >= 5 {
            if (index($0, work) == 0 && index($0, build "/") == 0 && $12 !~ /(^|\/)top$/)
                printf "%s%s %s%%", (n++ ? ", " : ""), $12, $9
        }' "$OTHERS_FILE")
    {
        printf '# %s: others busy: %s\n' "$1" "${line:-none}"
        sed -n '/^top -/p' "$OTHERS_FILE" | tail -n 1
    } >>"$RAW"
    printf '%s\n' "${line:-none}"
}

# ---- receiver ---------------------------------------------------------------------------------

# start_receiver [--log FILE]: on RX_PORT (0 the first time: any free port).
start_receiver() {
    local i port limit
    limit=$(left)
    ((limit >= 10)) || limit=10
    RX_OUT=$WORK/receiver.out
    : >"$RX_OUT"
    "$RECEIVER" --port "$RX_PORT" --duration "$limit" "$@" >"$RX_OUT" 2>"$WORK/receiver.err" &
    RX_PID=$!
    PIDS+=("$RX_PID")
    for ((i = 0; i < 50; i++)); do
        port=$(head -n 1 "$RX_OUT" | tr -dc '0-9')
        if [[ -n $port ]]; then
            RX_PORT=$port
            return 0
        fi
        kill -0 "$RX_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$WORK/receiver.err" >&2
    die "tocsin-receiver did not print its port within 5 s"
}

stop_receiver() {
    local i
    kill -TERM "$RX_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$RX_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$RX_PID" 2>/dev/null || true
    wait "$RX_PID" 2>/dev/null || true
    forget_pid "$RX_PID"
    RX_PID=
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

# drain EXPECTED [LIMIT_S]: waits until the receiver counted EXPECTED requests (EXPECTED 0: until
# its count has not moved for 2 s), at most LIMIT_S (NB_DRAIN_S) s. Prints the last count.
drain() {
    local want=$1 limit=${2:-$NB_DRAIN_S} t0=$SECONDS count=0 last=-1 still=0
    while ((SECONDS - t0 < limit)); do
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
    cat >"$WORK/tocsin.yaml" <<EOF
log:
  level: warn
store:
  durability: batch
notify:
  concurrency: ${NB_CONCURRENCY:-256}
${NB_THREADS:+  threads: $NB_THREADS}
EOF
    "$TOCSIN" serve --listen 127.0.0.1:0 --data "$DATA" --config "$WORK/tocsin.yaml" \
        >"$DATA/daemon.log" 2>&1 &
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
    for ((i = 0; i < 150; i++)); do
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$DAEMON_PID" 2>/dev/null; then
        note "tocsin was still running 15 s after SIGTERM: killed"
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
    fi
    wait "$DAEMON_PID" 2>/dev/null || rc=$?
    forget_pid "$DAEMON_PID"
    cp "$DATA/daemon.log" "$OUT/daemon-notify.log"
    if ((rc != 0)); then
        # kept apart: the next run overwrites daemon-notify.log
        cp "$DATA/daemon.log" "$OUT/daemon-notify-exit$rc-$(date -u +%Y%m%dT%H%M%S).log"
        note "tocsin exited with status $rc (134: abort, 139: segfault); its last non-attempt" \
            "log line: $(grep -v 'event=notify_attempt' "$DATA/daemon.log" | tail -n 1)"
    fi
    errs=$(grep -c 'level=error' "$DATA/daemon.log" || true)
    ((errs == 0)) || note "tocsin logged $errs error-level lines (bench/out/daemon-notify.log)"
}

# alive: notes (once) when the daemon is gone.
DEAD_NOTED=0
alive() {
    kill -0 "$DAEMON_PID" 2>/dev/null && return 0
    ((DEAD_NOTED)) || note "tocsin (pid $DAEMON_PID) died during the $1 phase"
    DEAD_NOTED=1
    return 1
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

# run_nb LIMIT_S ARGS...: the Python helper below (API set-up, the down phase's change sender, the
# order check), bounded.
run_nb() {
    local limit=$1 rc=0 pid
    shift
    timeout -k 5 "$limit" /usr/bin/python3 "$WORK/nb.py" --port "${PORT:-0}" "$@" \
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
"""API set-up, the paced change sender and the order check of bench/notify.sh (stdlib only,
loopback)."""
import argparse
import datetime
import http.client
import json
import sys
import threading
import time

# The events tocsin-loadgen's alerts use (bench/loadgen.c k_event): the max-phase rules match
# all eight. The rate and down phases use events of their own.
LOADGEN_EVENTS = ["HighCPU", "DiskFull", "NodeDown", "HighLatency", "ErrorRate",
                  "MemoryPressure", "QueueBacklog", "CertExpiry"]
RATE_EVENT = "BenchLatency"
ORDER_EVENT = "BenchOrder"
ON = ["create", "stateinc", "statedec", "resolve"]


def conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def call(c, method, path, body):
    data = json.dumps(body).encode()
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


def setup(a):
    c = conn(a.port)
    hook = f"http://127.0.0.1:{a.receiver_port}/hook"
    channels = [
        {"id": "bench", "type": "webhook", "config": {
            "url": hook, "headers": {"X-Bench-Sent-Ns": "{{alert.attributes.sent_ns}}",
                                     "X-Bench-Tag": "{{alert.resource}}"}}},
        {"id": "order", "type": "webhook", "config": {
            "url": hook,
            "headers": {"X-Bench-Tag": "{{alert.resource}} {{alert.attributes.seq}}"}}}]
    for ch in channels:
        st, body = call(c, "POST", "/api/v1/channels", ch)
        if st not in (200, 201):
            sys.exit(f"POST /api/v1/channels {ch['id']}: {st} {body[:300]!r}")
    rules = [{"id": "r0000", "on": ON,
              "match": ['environment="Production"', f'event="{RATE_EVENT}"'],
              "channels": ["bench"]},
             {"id": "r0001", "on": ON,
              "match": ['environment="Production"', f'event="{ORDER_EVENT}"'],
              "channels": ["order"]}]
    for k in range(a.fanout):  # fire on loadgen's severity changes, not on the fill's creates
        rules.append({"id": f"r{len(rules):04d}", "on": ["stateinc", "statedec"],
                      "match": [f'event=~"{"|".join(LOADGEN_EVENTS)}"',
                                f'severity!="fanout-{k}"'],
                      "channels": ["bench"]})
    matching = len(rules)
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
        rules.append({"id": f"r{i:04d}", "on": ON, "match": m, "channels": ["bench"]})
    for r in rules:  # "continue": every matching rule fires, not only the first
        r["continue"] = True
        st, body = call(c, "POST", "/api/v1/rules", r)
        if st not in (200, 201):
            sys.exit(f"POST /api/v1/rules {r['id']}: {st} {body[:300]!r}")
    print(f"channels={len(channels)} rules={len(rules)} matching={matching}")


def changes(a):
    """rate changes/s for seconds s over keys alerts, on conns connections, paced on an
    absolute schedule (a late send is sent at once and counted as late). Change i is change
    number seq = first_seq + i // keys of alert i % keys: seq 0 creates it (critical), each
    later one flips its severity (major, critical, ...). Its attributes carry seq and sent_ns
    (CLOCK_REALTIME ns, taken just before the request is written)."""
    total = int(a.rate * a.seconds) if a.count == 0 else a.count
    stats = {"sent": 0, "ok": 0, "errors": 0, "late": 0, "first_error": ""}
    lock = threading.Lock()
    t0 = time.monotonic() + 0.2
    event = ORDER_EVENT if a.order else RATE_EVENT

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
            k, seq = i % a.keys, a.first_seq + i // a.keys
            body = {"resource": f"{a.prefix}-{k}", "event": event, "environment": "Production",
                    "severity": "major" if seq % 2 else "critical", "service": ["bench"],
                    "origin": "notify.sh",
                    "attributes": {"seq": str(seq), "sent_ns": str(time.time_ns())}}
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


def verify(a):
    """The receiver's request log (X-Tocsin-Notification TAB X-Bench-Tag per line): of the
    requests tagged '<prefix>-<k> <seq>', every notification key must appear once, every
    (alert, seq) with seq < changes once, and each alert's seqs in increasing order."""
    seen = {}
    last = {}
    lines = dups = disorder = untagged = 0
    got = set()
    with open(a.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            key, tag = fields[0], fields[1] if len(fields) > 1 else ""
            res, _, seq = tag.partition(" ")
            if not res.startswith(a.prefix + "-"):
                continue
            lines += 1
            if key == "-" or not seq.isdigit():
                untagged += 1
                continue
            seq = int(seq)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                dups += 1
                continue
            if res in last and seq <= last[res]:
                disorder += 1
            last[res] = max(seq, last.get(res, -1))
            got.add((res, seq))
    want = {(f"{a.prefix}-{k}", s) for k in range(a.keys) for s in range(a.changes)}
    missing = len(want - got)
    extra = len(got - want)
    ok = dups == 0 and disorder == 0 and missing == 0 and extra == 0 and untagged == 0
    print(f"requests={lines} keys={len(seen)} expected={len(want)} duplicates={dups} "
          f"out_of_order={disorder} missing={missing} unexpected={extra} untagged={untagged} "
          f"ok={'yes' if ok else 'no'}")


def stages(a):
    """The daemon's own stage times over the last minute (/api/v1/stats), µs p99/max: the
    store writer's wait for a transaction and its commit, the notifier's wait from the commit
    to a first attempt's start; and the writer's checkpoints and WAL bytes since the start."""
    c = conn(a.port)
    c.request("GET", "/api/v1/stats")
    r = c.getresponse()
    st, body = r.status, r.read()
    if st != 200:
        sys.exit(f"GET /api/v1/stats: {st}")
    d = json.loads(body)
    s, n = d["store"], d["notifications"]
    print(f"store_wait_p99_us={s['waitUs']['p99']} store_wait_max_us={s['waitUs']['max']} "
          f"commit_p99_us={s['commitUs']['p99']} commit_max_us={s['commitUs']['max']} "
          f"notifier_wait_p99_us={n['waitUs']['p99']} notifier_wait_max_us={n['waitUs']['max']} "
          f"commits={s['commits']} messages={s['messages']} checkpoints={s['checkpoints']} "
          f"checkpoint_max_us={s['checkpointUsMax']} wal_bytes={s.get('walBytes', 'na')}")


def iso_ms(s):
    """'2026-11-24T12:02:30.647Z' -> epoch ms."""
    return int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(q * len(v) + 0.5) - 1))] if v else float("nan")


def split(a):
    """Splits each rate-phase delivery's delay by stage, joining the receiver's log (key, sent
    ns, received ns) with the outbox records of rule r0000 (created, attempt start), both in
    wall time (ms resolution on the daemon's side):
      ingest  sent -> the engine built the outbox record (HTTP, parse, engine, rules, context)
      outbox  record built -> attempt started (store writer commit, hand-off to the notifier,
              its queue, render and curl set-up)
      send    attempt started -> request read by the receiver (libcurl, loopback, receiver)"""
    rec = {}
    c = conn(a.port)
    offset = 0
    while True:
        c.request("GET", f"/api/v1/notifications?rule=r0000&limit=1000&offset={offset}")
        r = c.getresponse()
        body = json.loads(r.read())
        if r.status != 200:
            sys.exit(f"GET /api/v1/notifications: {r.status}")
        for n in body.get("notifications", []):
            att = n.get("deliveryAttempts") or []
            if n.get("status") == "delivered" and att:
                rec[n["id"]] = (iso_ms(n["createdTime"]), iso_ms(att[-1]["time"]), len(att))
        got = len(body.get("notifications", []))
        offset += got
        if got == 0 or offset >= body.get("total", 0):
            break
    runs = {}
    with open(a.log, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 4 or fields[0] not in rec or not fields[2].lstrip("-").isdigit():
                continue
            run = fields[1].split("-")[0]
            created, started, natt = rec[fields[0]]
            sent, recv = int(fields[2]) / 1e6, int(fields[3]) / 1e6
            runs.setdefault(run, []).append((created - sent, started - created, recv - started,
                                             recv - sent, natt))
    for run in sorted(runs):
        v = runs[run]
        tot = [x[3] for x in v]
        slow = [x for x in v if x[3] >= pct(tot, 0.99)]
        share = [sum(x[i] for x in slow) / max(1e-9, sum(x[3] for x in slow)) for i in range(3)]
        print(f"run={run} n={len(v)} retried={sum(1 for x in v if x[4] > 1)} "
              + " ".join(f"{name}_p50_ms={pct([x[i] for x in v], .5):.1f} "
                         f"{name}_p99_ms={pct([x[i] for x in v], .99):.1f}"
                         for i, name in enumerate(("ingest", "outbox", "send", "total")))
              + f" slowest1pct_share_ingest={share[0]:.2f} outbox={share[1]:.2f}"
              f" send={share[2]:.2f}")


p = argparse.ArgumentParser()
p.add_argument("cmd", choices=["setup", "changes", "verify", "split", "stages"])
p.add_argument("--port", type=int, required=True)
p.add_argument("--receiver-port", type=int, default=0)
p.add_argument("--rules", type=int, default=1000)
p.add_argument("--fanout", type=int, default=8)
p.add_argument("--rate", type=float, default=1000)
p.add_argument("--seconds", type=float, default=10)
p.add_argument("--count", type=int, default=0)
p.add_argument("--keys", type=int, default=1000)
p.add_argument("--conns", type=int, default=4)
p.add_argument("--prefix", default="nb")
p.add_argument("--first-seq", type=int, default=0)
p.add_argument("--order", action="store_true")
p.add_argument("--log", default="")
p.add_argument("--changes", type=int, default=5)
a = p.parse_args()
if not (1 <= a.rules <= 100000 and 0 <= a.fanout < a.rules - 2 and 0 < a.rate <= 20000
        and 0 < a.seconds <= 120 and 0 <= a.count <= 1000000 and a.keys >= 1
        and 1 <= a.conns <= 32 and a.first_seq >= 0 and 1 <= a.changes <= 1000):
    sys.exit("nb.py: option out of range")
if a.cmd != "verify" and not a.port:
    sys.exit("nb.py: --port is required")
{"setup": setup, "changes": changes, "verify": verify, "split": split,
 "stages": stages}[a.cmd](a)
PY
}

# ---- phases -----------------------------------------------------------------------------------

FILL_LINE=
FILL_NOTIFIED=na
RATE_LINES=()
RATE_RXS=()
MAX_LINES=()
MAX_RXS=()
RATE_OTHERS=()
MAX_OTHERS=()
RATE_CPU=() # µs of daemon CPU per delivery, per run (from the first change to the drain)
MAX_CPU=()
RATE_THR=() # the same by thread, per run ("name=µs ...")
MAX_THR=()
SUS_THR=()
SUS_LINES=()
SUS_RXS=()
SUS_CPU=()
SUS_OTHERS=()
DOWN_LINE=
DOWN_SEND=
DOWN_BACK_S=na
DOWN_OTHERS=
SPLIT_LINES=()
RATE_STAGES=() # the daemon's own stage times after each rate run (/api/v1/stats)

phase_setup() {
    run_nb 120 setup --receiver-port "$RX_PORT" --rules "$NB_RULES" --fanout "$NB_FANOUT" ||
        die "setting up the channels and $NB_RULES rules failed (see bench/out/notify-raw.txt)"
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

# phase_rate RUN
phase_rate() {
    local r=$1 line="" expected=0 seen rx c0 t0
    say "rate $r/$NB_RUNS: $NB_RATE changes/s for $NB_RATE_S s over $NB_KEYS new alerts"
    c0=$(cpu_ms)
    t0=$(thread_cpu)
    others_start "rate-$r"
    # the sender is tocsin-loadgen (C, one thread, a few µs per request), so that it takes as
    # little as possible of the two cores the daemon shares with it
    if run_lg $((NB_RATE_S + 30)) alerts --mode paced --port "$PORT" --rate "$NB_RATE" \
        --duration "$NB_RATE_S" --keys "$NB_KEYS" --conns 16 --id-prefix "nb$r" \
        --event BenchLatency; then
        line=$(tail -n 1 "$WORK/lg.out")
        expected=$(kv alerts "$line")
        (($(kv late "$line") == 0)) ||
            note "rate $r: $(kv late "$line") changes were sent over 10 ms late (the daemon" \
                "answered slowly or the sender was starved)"
    else
        note "rate $r: the change sender failed (see bench/out/notify-raw.txt)"
    fi
    RATE_OTHERS+=("$(others_end "rate-$r")")
    seen=$(drain "$expected")
    if run_nb 30 stages; then
        RATE_STAGES+=("rate $r: $(cat "$WORK/nb.out")")
    fi
    rx=$(rx_summary USR2)
    RATE_CPU+=("$(per_delivery $(($(cpu_ms) - c0)) "$(jv count "$rx")")")
    RATE_THR+=("$(thread_split "$t0" "$(thread_cpu)" "$(jv count "$rx")")")
    ((seen == expected)) ||
        note "rate $r: the receiver saw $seen deliveries for $expected changes within $NB_DRAIN_S s"
    RATE_LINES+=("$line")
    RATE_RXS+=("$rx")
    say "rate $r: $line; receiver $rx"
}

# load_phase PREFIX NAME RUN SECONDS LOADGEN_ARGS...: one loadgen run of SECONDS, then the
# drain; its line, the receiver's summary, the daemon's CPU per delivery and the other busy
# processes go to the PREFIX_LINES, PREFIX_RXS, PREFIX_CPU and PREFIX_OTHERS arrays.
load_phase() {
    local -n lines=${1}_LINES rxs=${1}_RXS cpus=${1}_CPU others=${1}_OTHERS thrs=${1}_THR
    local name=$2 r=$3 secs=$4 line="" rx c0 t0
    shift 4
    c0=$(cpu_ms)
    t0=$(thread_cpu)
    others_start "$name-$r"
    if run_lg $((secs + 40)) alerts "$@"; then
        line=$(tail -n 1 "$WORK/lg.out")
    else
        note "$name $r: loadgen failed (see bench/out/notify-raw.txt)"
    fi
    others+=("$(others_end "$name-$r")")
    drain 0 >/dev/null
    rx=$(rx_summary USR2)
    cpus+=("$(per_delivery $(($(cpu_ms) - c0)) "$(jv count "$rx")")")
    thrs+=("$(thread_split "$t0" "$(thread_cpu)" "$(jv count "$rx")")")
    lines+=("$line")
    rxs+=("$rx")
    say "$name $r: $line; receiver $rx"
}

# phase_max RUN
phase_max() {
    say "max $1/$NB_RUNS: tocsin-loadgen alerts --mode corr, 50 connections, $NB_MAX_S s"
    load_phase MAX max "$1" "$NB_MAX_S" --mode corr --port "$PORT" --conns 50 \
        --duration "$NB_MAX_S" --id-prefix "maxrate$1"
}

# phase_sustain RUN
phase_sustain() {
    say "sustain $1/$NB_RUNS: $NB_SUSTAIN changes/s x $NB_FANOUT rules for $NB_SUSTAIN_S s"
    load_phase SUS sustain "$1" "$NB_SUSTAIN_S" --mode paced --port "$PORT" \
        --rate "$NB_SUSTAIN" --duration "$NB_SUSTAIN_S" --keys 250 --conns 16 --id-prefix "sus$1" \
        --event HighCPU
}

# The receiver goes down for NB_DOWN_S s while the order alerts change, then comes back.
phase_down() {
    local n=$NB_ORDER_ALERTS k=$NB_ORDER_CHANGES t_down rate seen want back0
    if ((NB_DOWN_S <= 0)); then
        return 0
    fi
    if (($(left) < NB_DOWN_S + 150)); then
        note "down: skipped, $(left) s of the budget left"
        return 0
    fi
    RX_LOG=$WORK/order.log
    : >"$RX_LOG"
    stop_receiver
    start_receiver --log "$RX_LOG"
    say "down: $n alerts created while the receiver is up (receiver pid $RX_PID, --log)"
    run_nb 60 changes --order --prefix ord --keys "$n" --count "$n" --rate 200 --conns 1 ||
        note "down: creating the alerts failed (see bench/out/notify-raw.txt)"
    seen=$(drain "$n")
    ((seen == n)) || note "down: $seen of $n creates delivered before the receiver went down"
    stop_receiver
    t_down=$SECONDS
    # the other changes, paced over two thirds of the outage, on one connection (in order)
    rate=$(awk -v c=$((n * (k - 1))) -v s="$NB_DOWN_S" 'BEGIN {printf "%.2f", c / (s * 2 / 3)}')
    say "down: receiver stopped; $((n * (k - 1))) changes at $rate/s while it is down"
    others_start down
    run_nb $((NB_DOWN_S + 30)) changes --order --prefix ord --keys "$n" --first-seq 1 \
        --count $((n * (k - 1))) --rate "$rate" --conns 1 ||
        note "down: the change sender failed (see bench/out/notify-raw.txt)"
    DOWN_SEND=$(cat "$WORK/nb.out")
    DOWN_OTHERS=$(others_end down)
    while ((SECONDS - t_down < NB_DOWN_S)); do sleep 0.5; done
    start_receiver --log "$RX_LOG"
    back0=$SECONDS
    want=$((n * (k - 1)))
    say "down: receiver back after $((SECONDS - t_down)) s (pid $RX_PID, same port $RX_PORT);" \
        "waiting for $want deliveries"
    seen=$(drain "$want" 150)
    DOWN_BACK_S=$((SECONDS - back0))
    sleep 3 # anything sent twice would show now
    rx_summary USR1 >/dev/null
    ((seen >= want)) || note "down: $seen of $want deliveries within 150 s of the receiver's return"
    cp "$RX_LOG" "$OUT/notify-order.log"
    if run_nb 30 verify --log "$RX_LOG" --prefix ord --keys "$n" --changes "$k"; then
        DOWN_LINE=$(cat "$WORK/nb.out")
    else
        note "down: the check failed to run (see bench/out/notify-raw.txt)"
    fi
    say "down: $DOWN_LINE (backlog delivered $DOWN_BACK_S s after the receiver came back)"
}

# ---- report -----------------------------------------------------------------------------------

# col FIELD LINES...: FIELD of each key=value line (kv), space-separated.
col_kv() {
    local f=$1 l out=()
    shift
    for l in "$@"; do out+=("$(kv "$f" "$l")"); done
    printf '%s\n' "${out[*]}"
}

col_jv() {
    local f=$1 l out=()
    shift
    for l in "$@"; do out+=("$(jv "$f" "$l")"); done
    printf '%s\n' "${out[*]}"
}

# us_ms V: microseconds as milliseconds with two decimals ("na" stays).
us_ms() {
    if [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; then
        awk -v v="$1" 'BEGIN {printf "%.2f\n", v / 1000}'
    else
        printf '%s\n' "$1"
    fi
}

report() {
    local rev p99s rps cpu
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || printf 'uncommitted')
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    # shellcheck disable=SC2046,SC2086 # word splitting of the run lists is wanted
    p99s=$(col_jv p99_us ${RATE_RXS[@]+"${RATE_RXS[@]}"})
    # shellcheck disable=SC2046,SC2086 # word splitting of the run lists is wanted
    rps=$(col_jv rps ${MAX_RXS[@]+"${MAX_RXS[@]}"})
    cat <<EOF
## Notification benchmark

$(date -u +%Y-%m-%dT%H:%MZ), tocsin $rev, ${cpu:-unknown CPU}, $(nproc) cores (shared). Loopback
only. One daemon (\`store.durability: batch\`, \`notify.concurrency: ${NB_CONCURRENCY:-256}\`, other notify
settings default), $NB_RULES rules, webhook channels to \`tocsin-receiver\`,
$(kv alerts "$FILL_LINE") alerts stored by the fill before the runs. Figures are medians of
${#RATE_RXS[@]} (rate) and ${#MAX_RXS[@]} (max) runs; the per-run values follow.

| phase | load | deliveries | deliveries/s | p50 (ms) | p99 (ms) | max (ms) | bar |
|---|---|---:|---:|---:|---:|---:|---|
EOF
    # shellcheck disable=SC2046,SC2086 # word splitting of the run lists is wanted
    printf '| rate | %s changes/s for %s s over %s new alerts, 1 rule fires per change | %s | %s | %s | **%s** | %s | p99 < 3 ms |\n' \
        "$NB_RATE" "$NB_RATE_S" "$NB_KEYS" \
        "$(median $(col_jv count ${RATE_RXS[@]+"${RATE_RXS[@]}"}))" \
        "$(median $(col_jv rps ${RATE_RXS[@]+"${RATE_RXS[@]}"}))" \
        "$(us_ms "$(median $(col_jv p50_us ${RATE_RXS[@]+"${RATE_RXS[@]}"}))")" \
        "$(us_ms "$(median $p99s)")" \
        "$(us_ms "$(median $(col_jv max_us ${RATE_RXS[@]+"${RATE_RXS[@]}"}))")"
    # shellcheck disable=SC2046,SC2086 # word splitting of the run lists is wanted
    printf '| max | loadgen corr, 50 conns, %s s (%s changes/s), %s rules fire per change | %s | **%s** | | | | ≥ 10,000/s |\n' \
        "$NB_MAX_S" "$(median $(col_kv alerts_per_s ${MAX_LINES[@]+"${MAX_LINES[@]}"}))" \
        "$NB_FANOUT" "$(median $(col_jv count ${MAX_RXS[@]+"${MAX_RXS[@]}"}))" \
        "$(median $rps)"
    # shellcheck disable=SC2046,SC2086 # word splitting of the run lists is wanted
    printf '| sustain | %s changes/s (paced) for %s s, %s rules fire per change: %s deliveries/s asked | %s | **%s** | %s | %s | %s | ≥ 10,000/s |\n' \
        "$NB_SUSTAIN" "$NB_SUSTAIN_S" "$NB_FANOUT" "$((NB_SUSTAIN * NB_FANOUT))" \
        "$(median $(col_jv count ${SUS_RXS[@]+"${SUS_RXS[@]}"}))" \
        "$(median $(col_jv rps ${SUS_RXS[@]+"${SUS_RXS[@]}"}))" \
        "$(us_ms "$(median $(col_jv p50_us ${SUS_RXS[@]+"${SUS_RXS[@]}"}))")" \
        "$(us_ms "$(median $(col_jv p99_us ${SUS_RXS[@]+"${SUS_RXS[@]}"}))")" \
        "$(us_ms "$(median $(col_jv max_us ${SUS_RXS[@]+"${SUS_RXS[@]}"}))")"
    cat <<EOF

Per run: rate p99 (µs) ${p99s:-none}; max deliveries/s ${rps:-none}; sustain deliveries/s
$(col_jv rps ${SUS_RXS[@]+"${SUS_RXS[@]}"}), p99 (µs) $(col_jv p99_us ${SUS_RXS[@]+"${SUS_RXS[@]}"}).
Sustain sender: $(printf '%s | ' ${SUS_LINES[@]+"${SUS_LINES[@]}"} | cut -c1-600).
Daemon CPU per delivery (µs, user + system, from the start of the load to the drain): rate
${RATE_CPU[*]:-na} (median $(median ${RATE_CPU[@]+"${RATE_CPU[@]}"})); max ${MAX_CPU[*]:-na}
(median $(median ${MAX_CPU[@]+"${MAX_CPU[@]}"})); sustain ${SUS_CPU[*]:-na} (median
$(median ${SUS_CPU[@]+"${SUS_CPU[@]}"})); it depends much less than the rates on what
else runs: compare builds with it. By thread (runs separated by |): rate
$(IFS='|'; printf '%s' "${RATE_THR[*]:-na}"); max $(IFS='|'; printf '%s' "${MAX_THR[*]:-na}");
sustain $(IFS='|'; printf '%s' "${SUS_THR[*]:-na}").
Busy processes not started by the bench (top, 2 s into each phase; runs separated by |): rate
$(IFS='|'; printf '%s' "${RATE_OTHERS[*]:-na}"); max $(IFS='|'; printf '%s' "${MAX_OTHERS[*]:-na}"); sustain
$(IFS='|'; printf '%s' "${SUS_OTHERS[*]:-na}").

Where the rate phase's delay goes, per run (ms; ingest = sent → the engine built the outbox
record, outbox = → attempt started (writer commit, notifier), send = → the receiver read it;
the share columns are of the slowest 1 %):

\`\`\`
$(printf '%s\n' ${SPLIT_LINES[@]+"${SPLIT_LINES[@]}"})
\`\`\`

The daemon's own stage times after each rate run (\`/api/v1/stats\`, its last minute: the
store writer's wait for a transaction and the commit, the notifier's wait from the commit to a
first attempt's start, µs):

\`\`\`
$(printf '%s\n' ${RATE_STAGES[@]+"${RATE_STAGES[@]}"})
\`\`\`

*rate*: each change is stamped with \`attributes.sent_ns\` (CLOCK_REALTIME) just before its POST;
the channel copies it into \`X-Bench-Sent-Ns\` and the receiver records now − sent, so the delay
includes the ingest request. *deliveries/s* is the receiver's count over the time from its first
to its last delivery of the phase (deliveries go on after loadgen stops). Deliveries caused by
the fill: $FILL_NOTIFIED (none expected).
EOF
    if ((NB_DOWN_S > 0)); then
        cat <<EOF

### Receiver down, then back

$NB_ORDER_ALERTS alerts, each created (and delivered) and then changed $((NB_ORDER_CHANGES - 1))
times while the receiver is down for $NB_DOWN_S s (the issue's bar says 10 minutes; this is a
scaled-down run). Retries use the defaults (backoff 1 s doubling to 1 min with jitter, 30
attempts; a failing channel's waiting retries go at once when one of its deliveries succeeds). Sender: $DOWN_SEND. The backlog was delivered $DOWN_BACK_S s after the receiver came
back. Others busy: ${DOWN_OTHERS:-na}.

Check of the receiver's log (X-Tocsin-Notification, resource and seq per request):
\`${DOWN_LINE:-not run}\`
EOF
    fi
    if ((${#NOTES[@]} > 0)); then
        printf '\n### Notes\n\n'
        printf -- '- %s\n' "${NOTES[@]}"
    fi
}

main() {
    local b r
    for b in "$TOCSIN" "$LOADGEN" "$RECEIVER"; do
        [[ -x $b ]] || die "$b not found: build first (make build)"
    done
    BUILD=$(cd "$BUILD" && pwd) # absolute: tells our processes from others' in top
    TOCSIN=$BUILD/tocsin
    LOADGEN=$BUILD/tocsin-loadgen
    RECEIVER=$BUILD/tocsin-receiver
    mkdir -p "$OUT"
    : >"$RAW"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-notify-work.XXXXXX")
    TMPDIRS+=("$WORK")
    write_helper
    start_receiver --log "$WORK/rx.log"
    start_daemon
    say "tocsin pid $DAEMON_PID on 127.0.0.1:$PORT, receiver pid $RX_PID on 127.0.0.1:$RX_PORT"
    phase_setup
    phase_fill
    for ((r = 1; r <= NB_RUNS; r++)); do
        if (($(left) < NB_RATE_S + NB_DRAIN_S + 40)); then
            note "rate run $r skipped: $(left) s of the budget left"
            continue
        fi
        alive rate || break
        phase_rate "$r"
    done
    if ((${#RATE_RXS[@]} > 0)); then
        rx_summary USR1 >/dev/null # flushes the receiver's log
        if run_nb 60 split --log "$WORK/rx.log"; then
            mapfile -t SPLIT_LINES <"$WORK/nb.out"
        else
            note "rate: splitting the delay by stage failed (see bench/out/notify-raw.txt)"
        fi
    fi
    for ((r = 1; r <= NB_MAX_RUNS; r++)); do
        if (($(left) < NB_MAX_S + NB_DRAIN_S + 60)); then
            note "max run $r skipped: $(left) s of the budget left"
            continue
        fi
        alive max || break
        phase_max "$r"
    done
    for ((r = 1; r <= NB_RUNS && NB_SUSTAIN > 0; r++)); do
        if (($(left) < NB_SUSTAIN_S + NB_DRAIN_S + 60)); then
            note "sustain run $r skipped: $(left) s of the budget left"
            continue
        fi
        alive sustain || break
        phase_sustain "$r"
    done
    alive down && phase_down
    stop_receiver
    stop_daemon
    report >"$WORK/notify.md"
    cp "$WORK/notify.md" "$OUT/notify.md"
    printf '\n'
    cat "$OUT/notify.md"
    say "written to $OUT/notify.md (raw lines: $RAW)"
}

main
