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
