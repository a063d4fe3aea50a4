#!/bin/sh
# Runs every libFuzzer harness built in BUILD_DIR for SECONDS each (default 30), one after the
# other, starting from the seed corpora in tests/fuzz/corpus/. The seeds are copied to a temporary
# directory first, so the repository is never modified: the grown corpora, the logs and any crash
# files stay in that directory, which is removed when every target passes (kept when one fails,
# or when FUZZ_KEEP=1).
#
#   tests/fuzz/run.sh build-fuzz 60
#   FUZZ_TARGETS="fuzz_event fuzz_config" tests/fuzz/run.sh build-fuzz 300
#
# Environment: FUZZ_TARGETS (default: every fuzz_* executable in BUILD_DIR), FUZZ_MAX_LEN
# (default 16384; the harnesses ignore inputs over 64 KiB), FUZZ_KEEP=1, FUZZ_ARGS (extra
# libFuzzer flags), FUZZ_NO_SUPPRESS=1 (see the suppressions below). Exit status: 0 if no
# target found anything, 1 otherwise, 2 on usage errors.
set -eu

usage() {
    echo "usage: $0 BUILD_DIR [SECONDS]" >&2
    exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build=$1
secs=${2:-30}
case $secs in '' | *[!0-9]*) usage ;; esac
[ "$secs" -gt 0 ] || usage
here=$(cd "$(dirname "$0")" && pwd)
maxlen=${FUZZ_MAX_LEN:-16384}

if [ -z "${FUZZ_TARGETS:-}" ]; then
    FUZZ_TARGETS=
    for f in "$build"/fuzz_*; do
        [ -f "$f" ] && [ -x "$f" ] && FUZZ_TARGETS="$FUZZ_TARGETS ${f##*/}"
    done
fi
if [ -z "$FUZZ_TARGETS" ]; then
    echo "$0: no fuzz_* executables in $build (configured with -DTOCSIN_FUZZ=ON?)" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tocsin-fuzz.XXXXXX")

# Dictionaries: the tokens each parser looks for, so mutations reach past the first keyword.
cat >"$work/json.dict" <<'EOF'
"{"
"}"
"["
"]"
":"
","
"\""
"true"
"false"
"null"
"-0"
"1e308"
"1e400"
"-9223372036854775808"
"9223372036854775808"
"0.1"
"\\u00e9"
"\\ud83d\\ude00"
"\\ud800"
"\\u0000"
"\\n"
"\x00"
"\xc3\xa9"
"\xed\xa0\x80"
EOF
cat "$work/json.dict" >"$work/event.dict"
cat >>"$work/event.dict" <<'EOF'
"\"id\""
"\"type\""
"\"timestamp\""
"\"properties\""
"\"context\""
"\"a.b\""
EOF
cat "$work/json.dict" >"$work/trigger.dict"
cat >>"$work/trigger.dict" <<'EOF'
"\"id\""
"\"name\""
"\"source\""
"\"enabled\""
"\"severity\""
"\"description\""
"\"conditions\""
"\"conditionsOperator\""
"\"filters\""
"\"dampening\""
"\"notificationPeriods\""
"\"notifications\""
"\"metadata\""
"\"resolveAfter\""
"\"notifyOnResolve\""
"\"type\""
"\"property\""
"\"property2\""
"\"operator\""
"\"operatorLow\""
"\"operatorHigh\""
"\"threshold\""
"\"thresholdLow\""
"\"thresholdHigh\""
"\"multiplier\""
"\"pattern\""
"\"ignoreCase\""
"\"function\""
"\"duration\""
"\"timeUnit\""
"\"projections\""
"\"comparison\""
"\"sampleSize\""
"\"mode\""
"\"trueEvaluations\""
"\"totalEvaluations\""
"\"days\""
"\"zoneId\""
"\"beginHour\""
"\"endHour\""
"\"periods\""
"\"configuration\""
"\"url\""
"\"method\""
"\"headers\""
"\"value\""
"\"body\""
"\"channel\""
"\"token\""
"\"message\""
"\"useSystemProxy\""
"\"skipVerify\""
"\"THRESHOLD\""
"\"THRESHOLD_RANGE\""
"\"STRING\""
"\"STRING_COMPARE\""
"\"COMPARE\""
"\"AGGREGATION\""
"\"RATE\""
"\"MISSING_DATA\""
"\"PROPERTY\""
"\"LT\""
"\"LTE\""
"\"GT\""
"\"GTE\""
"\"EQUALS\""
"\"NOT_EQUALS\""
"\"STARTS_WITH\""
"\"ENDS_WITH\""
"\"CONTAINS\""
"\"MATCHES\""
"\"INCLUSIVE\""
"\"EXCLUSIVE\""
"\"COUNT\""
"\"AVG\""
"\"MIN\""
"\"MAX\""
"\"P50\""
"\"P99\""
"\"STRICT_COUNT\""
"\"RELAXED_COUNT\""
"\"RELAXED_TIME\""
"\"STRICT_TIME\""
"\"MILLISECONDS\""
"\"SECONDS\""
"\"MINUTES\""
"\"HOURS\""
"\"DAYS\""
"\"AND\""
"\"OR\""
"\"INFO\""
"\"WARNING\""
"\"CRITICAL\""
"\"webhook-notifier\""
"\"slack-notifier\""
"\"email-notifier\""
"\"POST\""
"\"Content-Type\""
"\"application/json\""
"\"Europe/Paris\""
"\"UTC+05:30\""
"\"${alert.id}\""
EOF
cat "$work/json.dict" >"$work/match.dict"
cat >>"$work/match.dict" <<'EOF'
"\"field\""
"\"field_type\""
"\"cond\""
"\"type\""
"\"value\""
"\"string\""
"\"int\""
"\"bool\""
"\"string_array\""
"\"eq\""
"\"neq\""
"\"gt\""
"\"lt\""
"\"regexp\""
"\"contain\""
"\"not_contain\""
"\"begin_with\""
"\"not_begin_with\""
"\"end_with\""
"\"not_end_with\""
"\"has_every\""
"\"has_one_of\""
"\"has_not\""
"\"is_one_of\""
"\"is_not_one_of\""
"\"is_empty\""
"\"exist\""
"\"severity\""
"\"previousSeverity\""
"\"status\""
"\"trendIndication\""
"\"duplicateCount\""
"\"timeout\""
"\"repeat\""
"\"createTime\""
"\"service\""
"\"tags\""
"\"correlate\""
"\"resource\""
"\"labels.team\""
"\"attributes.count\""
"\"annotations.summary\""
"\"major\""
"\"critical\""
"\"normal\""
"="
"!="
"=~"
"!~"
"\\\""
".*"
"(?"
EOF
cat "$work/match.dict" >"$work/nrule.dict"
cat >>"$work/nrule.dict" <<'EOF'
"\"id\""
"\"name\""
"\"enabled\""
"\"priority\""
"\"on\""
"\"match\""
"\"periods\""
"\"delay\""
"\"group_by\""
"\"group_wait\""
"\"group_interval\""
"\"repeat_interval\""
"\"throttle\""
"\"count\""
"\"window\""
"\"continue\""
"\"channels\""
"\"send_resolved\""
"\"inhibit\""
"\"source\""
"\"equal\""
"\"trigger\""
"\"create\""
"\"reopen\""
"\"unblackout\""
"\"stateinc\""
"\"statedec\""
"\"resolve\""
"\"close\""
"\"expire\""
"\"eventscount2\""
"\"...\""
"\"1h30m\""
"\"30s\""
"\"1d\""
"\"days\""
"\"beginHour\""
"\"endHour\""
"\"zoneId\""
"\"Europe/Paris\""
EOF
cat >"$work/template.dict" <<'EOF'
"${"
"}"
"\\${"
"$"
"."
"["
"]"
"['"
"']"
"[\""
"\"]"
"r\""
"!"
"!\"\""
"!''"
"?"
"("
")"
"\x00"
"?upper_case"
"?lower_case"
"?cap_first"
"?uncap_first"
"?html"
"?url"
"?json_string"
"?trim"
"?c"
"?string"
"alert"
"notification"
"properties"
"{\"x\":"
"[0]"
"1e21"
"9007199254740993"
EOF
cat >"$work/config.dict" <<'EOF'
"listen: "
"data: "
"insecure: "
"log:"
"  level: "
"http:"
"  max_body: "
"  max_frame: "
"  max_batch: "
"  max_connections: "
"auth:"
"  users:"
"    - name: "
"      password_hash: "
"$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
"engine:"
"  resolve_after: "
"  queue: "
"  queue_bytes: "
"  max_keys_per_trigger: "
"  max_triggers: "
"  test_clock: "
"store:"
"  durability: "
"notify:"
"  max_attempts: "
"  backoff_base: "
"  backoff_max: "
"  timeout: "
"  concurrency: "
"127.0.0.1:0"
"[::1]:8072"
"localhost:"
"1500ms"
"30s"
"5m"
"2h"
"1d"
"512k"
"1g"
"18446744073709551615"
"true"
"false"
"null"
"~"
"---"
"..."
"&a"
"*a"
"!!str"
"%YAML 1.2"
"<<: "
"{"
"}"
"["
"]"
"\"\\x01\""
"'"
"|"
">"
"#"
EOF

# Known leaks in third-party code, matched by function name (never by library, which would also
# hide a parser or document that tocsin forgets to destroy). Naming a frame inside libfyaml needs
# the slow unwinder, so fuzz_config and fuzz_yamlj (both on libfyaml) run with it (capped at 8
# frames: about 2.5x slower).
#  - libfyaml 0.7.12 (Debian bookworm) leaks the atom iterator's grown chunk array when a
#    single-quoted scalar has five or more '' escapes (upstream pantoniou/libfyaml#233, closed
#    there); see tests/fuzz/crashes/fuzz_config-fyaml-quote-leak.bin.
# FUZZ_NO_SUPPRESS=1 runs without this, to check whether the installed libfyaml still leaks.
cat >"$work/lsan-libfyaml.supp" <<'EOF'
leak:fy_atom_format_text
leak:fy_atom_iter_chunk_next
EOF

status=0
summary=
for t in $FUZZ_TARGETS; do
    bin=$build/$t
    [ -x "$bin" ] || { echo "$0: $bin: not built" >&2; status=1; continue; }
    mkdir -p "$work/$t/corpus" "$work/$t/crashes"
    if [ -d "$here/corpus/$t" ]; then
        cp -R "$here/corpus/$t/." "$work/$t/corpus/"
    fi
    dict=
    case $t in
        fuzz_event) dict=$work/event.dict ;;
        fuzz_alerta) dict=$work/json.dict ;;
        fuzz_trigger) dict=$work/trigger.dict ;;
        fuzz_template) dict=$work/template.dict ;;
        fuzz_config) dict=$work/config.dict ;;
        fuzz_match) dict=$work/match.dict ;;
        fuzz_nrule) dict=$work/nrule.dict ;;
        fuzz_yamlj) dict=$work/config.dict ;;
    esac
    echo "== $t: ${secs}s"
    # A harness that aborts (a finding) must not stop the other targets: set -e is off here.
    asan=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    lsan=${LSAN_OPTIONS:-}
    if { [ "$t" = fuzz_config ] || [ "$t" = fuzz_yamlj ]; } && [ "${FUZZ_NO_SUPPRESS:-0}" != 1 ]; then
        asan="$asan:fast_unwind_on_malloc=0:malloc_context_size=8"
        lsan="${lsan:+$lsan:}suppressions=$work/lsan-libfyaml.supp"
    fi
    rc=0
    # FUZZ_ARGS is split into words on purpose.
    # shellcheck disable=SC2086
    ASAN_OPTIONS=$asan LSAN_OPTIONS=$lsan \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" -max_total_time="$secs" -max_len="$maxlen" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$t/crashes/" ${dict:+-dict="$dict"} \
        ${FUZZ_ARGS:-} "$work/$t/corpus" >"$work/$t/log" 2>&1 || rc=$?
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$work/$t/log" |
        tail -n 1 || true)
    execs=$(grep -E '^stat::average_exec_per_sec:' "$work/$t/log" | awk '{print $2}' || true)
    cov=$(printf '%s\n' "$last" |
        sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([^ ]*\).*/cov \1, ft \2, corpus \3/p')
    if [ "$rc" -eq 0 ]; then
        line="$t: ok, ${execs:-?} exec/s, $cov"
    else
        status=1
        line="$t: FAILED (exit $rc), see $work/$t/log; crash files in $work/$t/crashes/"
        grep -E 'ERROR: |SUMMARY: |runtime error|fuzz_[a-z]+: ' "$work/$t/log" |
            head -n 5 >&2 || true
    fi
    echo "$line"
    summary="$summary$line
"
done

echo "== summary"
printf '%s' "$summary"
if [ "$status" -eq 0 ] && [ "${FUZZ_KEEP:-0}" != 1 ]; then
    rm -rf "$work"
else
    echo "work directory kept: $work"
fi
exit "$status"
