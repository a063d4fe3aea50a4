# Helpers bench/run.sh and bench/notify.sh share (sourced; bash). They use the caller's
# PIDS (processes to stop on exit) and NOTES (warnings for the report) arrays.

say() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }

die() {
    say "error: $*"
    exit 1
}

note() {
    say "warning: $*"
    NOTES+=("$*")
}

# forget_pid PID: it is no longer ours to stop.
forget_pid() {
    local keep=() p
    for p in ${PIDS[@]+"${PIDS[@]}"}; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
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

# thread_cpu: "<thread name> <ms>" lines, the CPU time (user + system) the daemon's threads have
# used so far, summed by name.
thread_cpu() {
    local t
    for t in /proc/"$DAEMON_PID"/task/*; do
        printf '%s %s\n' "$(cat "$t/comm" 2>/dev/null)" \
            "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')"
    done | awk -v hz="$(getconf CLK_TCK)" 'NF == 2 {s[$1] += $2}
        END {for (k in s) printf "%s %d\n", k, s[k] * 1000 / hz}'
}

# thread_split BEFORE AFTER COUNT: "name=µs ..." of daemon CPU per item (a delivery, an alert)
# by thread, from two thread_cpu outputs, the busiest first (threads under 0.5 µs left out), or
# "na".
thread_split() {
    if [[ ! $3 =~ ^[1-9][0-9]*$ ]]; then
        printf 'na\n'
        return
    fi
    awk -v n="$3" 'NR == FNR {b[$1] = $2; next}
        {d = ($2 - b[$1]) * 1000 / n; if (d >= 0.5) printf "%s %.0f\n", $1, d}' \
        <(printf '%s\n' "$1") <(printf '%s\n' "$2") | sort -k2,2nr |
        awk '{printf "%s%s=%s", (NR > 1 ? " " : ""), $1, $2} END {print ""}'
}
