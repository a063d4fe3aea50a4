"""Every condition type fires or does not, data-driven.

A case is: the trigger's conditions, a list of steps (an event's properties, or ADV(ms) to advance
the test clock), and whether the trigger must have fired (an alert exists) at the end. Each case
has its own trigger and its own source, on a daemon shared by the module. Window conditions are
evaluated as events arrive; MISSING_DATA is fired by the timer with no event at all.
"""

import pytest

from helpers import ADV, run_fire_case, threshold


def s(prop, op, pattern, ic=False):
    return {"type": "STRING", "property": prop, "operator": op, "pattern": pattern,
            "ignoreCase": ic}


def sc(op, ic=False):
    return {"type": "STRING_COMPARE", "property": "a", "operator": op, "property2": "b",
            "ignoreCase": ic}


def rng(op_low, low, op_high, high):
    return {"type": "THRESHOLD_RANGE", "property": "v", "operatorLow": op_low,
            "thresholdLow": low, "operatorHigh": op_high, "thresholdHigh": high}


def cmp(op, mult):
    return {"type": "COMPARE", "property": "rt", "operator": op, "multiplier": mult,
            "property2": "avg"}


def agg(fn, op, thr, prop="rt", projections=("api",), duration=10, unit="SECONDS"):
    c = {"type": "AGGREGATION", "function": fn, "operator": op, "threshold": thr,
         "duration": duration, "timeUnit": unit,
         "projections": [{"type": "PROPERTY", "property": p} for p in projections]}
    if prop is not None:
        c["property"] = prop
    return c


def rate(op, thr, sample, comparison=None):
    return {"type": "RATE", "operator": op, "threshold": thr,
            "comparison": comparison or threshold("status", "GTE", 500),
            "duration": 10, "timeUnit": "SECONDS", "sampleSize": sample}


def missing(duration=10, unit="SECONDS", projections=()):
    return {"type": "MISSING_DATA", "duration": duration, "timeUnit": unit,
            "projections": [{"type": "PROPERTY", "property": p} for p in projections]}


def p(**kw):
    return dict(kw)


W = ADV(1000)      # warm-up gap after the first event of a window case
END = ADV(9000)    # lands exactly one 10 s window after the first event
SPREAD = [{"api": "a", "rt": v} for v in range(1, 101)]  # one batch of 100 events, 1..100
SPREAD_DOWN = list(reversed(SPREAD))                      # 100..1: every prefix median >= 50


# (case id, conditions, steps, fires)
CASES = [
    # STRING
    ("str-equals", [s("path", "EQUALS", "/api/v1")], [p(path="/api/v1")], True),
    ("str-equals-case", [s("path", "EQUALS", "/api/v1")], [p(path="/API/V1")], False),
    ("str-equals-ic", [s("path", "EQUALS", "/api/v1", True)], [p(path="/API/V1")], True),
    ("str-equals-absent", [s("path", "EQUALS", "/api/v1")], [p(other="/api/v1")], False),
    ("str-not-equals", [s("path", "NOT_EQUALS", "/api")], [p(path="/other")], True),
    ("str-not-equals-same", [s("path", "NOT_EQUALS", "/api")], [p(path="/api")], False),
    ("str-not-equals-ic", [s("path", "NOT_EQUALS", "/api", True)], [p(path="/API")], False),
    ("str-starts", [s("path", "STARTS_WITH", "/api")], [p(path="/api/x")], True),
    ("str-starts-no", [s("path", "STARTS_WITH", "/api")], [p(path="/x/api")], False),
    ("str-starts-ic", [s("path", "STARTS_WITH", "/api", True)], [p(path="/API/x")], True),
    ("str-ends", [s("file", "ENDS_WITH", ".json")], [p(file="a.json")], True),
    ("str-ends-no", [s("file", "ENDS_WITH", ".json")], [p(file="a.xml")], False),
    ("str-ends-case", [s("file", "ENDS_WITH", ".json")], [p(file="A.JSON")], False),
    ("str-ends-ic", [s("file", "ENDS_WITH", ".json", True)], [p(file="A.JSON")], True),
    ("str-contains", [s("msg", "CONTAINS", "err")], [p(msg="an error here")], True),
    ("str-contains-no", [s("msg", "CONTAINS", "err")], [p(msg="all fine")], False),
    ("str-contains-case", [s("msg", "CONTAINS", "err")], [p(msg="AN ERROR")], False),
    ("str-contains-ic", [s("msg", "CONTAINS", "err", True)], [p(msg="AN ERROR")], True),
    ("str-matches", [s("req", "MATCHES", "^GET /api/v[0-9]+$")], [p(req="GET /api/v2")], True),
    ("str-matches-no", [s("req", "MATCHES", "^GET /api/v[0-9]+$")], [p(req="POST /api/v2")],
     False),
    ("str-matches-case", [s("req", "MATCHES", "^GET /api/v[0-9]+$")], [p(req="get /api/v2")],
     False),
    ("str-matches-ic", [s("req", "MATCHES", "^GET /api/v[0-9]+$", True)],
     [p(req="get /api/v2")], True),
    # STRING_COMPARE: property a OP property b
    ("sc-equals", [sc("EQUALS")], [p(a="x1", b="x1")], True),
    ("sc-equals-case", [sc("EQUALS")], [p(a="x1", b="X1")], False),
    ("sc-equals-ic", [sc("EQUALS", True)], [p(a="x1", b="X1")], True),
    ("sc-not-equals", [sc("NOT_EQUALS")], [p(a="x", b="y")], True),
    ("sc-not-equals-same", [sc("NOT_EQUALS")], [p(a="x", b="x")], False),
    ("sc-starts", [sc("STARTS_WITH")], [p(a="prefix-rest", b="prefix")], True),
    ("sc-starts-no", [sc("STARTS_WITH")], [p(a="rest-prefix", b="prefix")], False),
    ("sc-ends", [sc("ENDS_WITH")], [p(a="rest-suffix", b="suffix")], True),
    ("sc-ends-ic", [sc("ENDS_WITH", True)], [p(a="rest-SUFFIX", b="suffix")], True),
    ("sc-contains", [sc("CONTAINS")], [p(a="one two three", b="two")], True),
    ("sc-contains-no", [sc("CONTAINS")], [p(a="one three", b="two")], False),
    ("sc-matches", [sc("MATCHES")], [p(a="abc123", b="^abc[0-9]+$")], True),
    ("sc-matches-no", [sc("MATCHES")], [p(a="abcxyz", b="^abc[0-9]+$")], False),
    # THRESHOLD
    ("th-lt", [threshold("rt", "LT", 100)], [p(rt=99)], True),
    ("th-lt-edge", [threshold("rt", "LT", 100)], [p(rt=100)], False),
    ("th-lte-edge", [threshold("rt", "LTE", 100)], [p(rt=100)], True),
    ("th-lte-no", [threshold("rt", "LTE", 100)], [p(rt=101)], False),
    ("th-gte-edge", [threshold("rt", "GTE", 100)], [p(rt=100)], True),
    ("th-gte-no", [threshold("rt", "GTE", 100)], [p(rt=99.5)], False),
    ("th-gt", [threshold("rt", "GT", 100)], [p(rt=101)], True),
    ("th-gt-edge", [threshold("rt", "GT", 100)], [p(rt=100)], False),
    ("th-float", [threshold("load", "GT", 0.5)], [p(load=0.75)], True),
    ("th-absent", [threshold("rt", "LT", 100)], [p(other=1)], False),
    ("th-lowercase-enums", [{"type": "threshold", "property": "rt", "operator": "lt",
                             "threshold": 10}], [p(rt=1)], True),
    # THRESHOLD_RANGE: value within [low, high] with the bounds' inclusiveness
    ("rng-incl-low", [rng("INCLUSIVE", 100, "INCLUSIVE", 200)], [p(v=100)], True),
    ("rng-incl-high", [rng("INCLUSIVE", 100, "INCLUSIVE", 200)], [p(v=200)], True),
    ("rng-incl-below", [rng("INCLUSIVE", 100, "INCLUSIVE", 200)], [p(v=99)], False),
    ("rng-incl-above", [rng("INCLUSIVE", 100, "INCLUSIVE", 200)], [p(v=201)], False),
    ("rng-excl-low", [rng("EXCLUSIVE", 100, "EXCLUSIVE", 200)], [p(v=100)], False),
    ("rng-excl-high", [rng("EXCLUSIVE", 100, "EXCLUSIVE", 200)], [p(v=200)], False),
    ("rng-excl-mid", [rng("EXCLUSIVE", 100, "EXCLUSIVE", 200)], [p(v=150)], True),
    ("rng-mixed-low", [rng("INCLUSIVE", 100, "EXCLUSIVE", 200)], [p(v=100)], True),
    ("rng-mixed-high", [rng("INCLUSIVE", 100, "EXCLUSIVE", 200)], [p(v=200)], False),
    # COMPARE: rt OP multiplier * avg
    ("cmp-gt", [cmp("GT", 2)], [p(rt=300, avg=100)], True),
    ("cmp-gt-no", [cmp("GT", 2)], [p(rt=150, avg=100)], False),
    ("cmp-gt-edge", [cmp("GT", 2)], [p(rt=200, avg=100)], False),
    ("cmp-lte-half", [cmp("LTE", 0.5)], [p(rt=50, avg=100)], True),
    ("cmp-lte-half-no", [cmp("LTE", 0.5)], [p(rt=51, avg=100)], False),
    # AGGREGATION over 10 s per projection key "api". The steps are built so that the outcome is
    # the same whether windows are evaluated as events arrive or on a timer tick one window after
    # the first event (the window then holding the samples newer than now - 10 s): a first event,
    # 1 s later the decisive ones, then the clock lands exactly 10 s after the first event.
    ("agg-count", [agg("COUNT", "GTE", 3, prop=None)],
     [p(api="a1"), W, p(api="a1"), p(api="a1"), p(api="a1"), END], True),
    ("agg-count-no", [agg("COUNT", "GTE", 3, prop=None)],
     [p(api="a1"), W, p(api="a1"), END], False),
    ("agg-count-per-key", [agg("COUNT", "GTE", 3, prop=None)],
     [p(api="a1"), p(api="a2"), W, p(api="a1"), p(api="a2"), END], False),
    ("agg-count-window-expires", [agg("COUNT", "GTE", 3, prop=None)],
     [p(api="a1"), p(api="a1"), ADV(11000), p(api="a1"), END], False),
    ("agg-count-within-window", [agg("COUNT", "GTE", 3, prop=None)],
     [p(api="a1"), W, p(api="a1"), ADV(4000), p(api="a1"), p(api="a1"), ADV(5000)], True),
    ("agg-count-minutes", [agg("COUNT", "GTE", 2, prop=None, duration=1, unit="MINUTES")],
     [p(api="a1"), ADV(20000), p(api="a1"), p(api="a1"), ADV(40000)], True),
    ("agg-avg", [agg("AVG", "GT", 100)],
     [p(api="a", rt=150), W, p(api="a", rt=50), p(api="a", rt=200), END], True),
    ("agg-avg-no", [agg("AVG", "GT", 100)],
     [p(api="a", rt=50), W, p(api="a", rt=80), p(api="a", rt=90), END], False),
    ("agg-avg-per-key", [agg("AVG", "GT", 100)],
     [p(api="a", rt=50), p(api="b", rt=200), W, p(api="a", rt=60), p(api="b", rt=150), END],
     True),
    ("agg-max", [agg("MAX", "GTE", 1000)],
     [p(api="a", rt=10), W, p(api="a", rt=1000), END], True),
    ("agg-max-no", [agg("MAX", "GTE", 1000)],
     [p(api="a", rt=10), W, p(api="a", rt=999), END], False),
    ("agg-min", [agg("MIN", "LT", 10)], [p(api="a", rt=50), W, p(api="a", rt=5), END], True),
    ("agg-min-no", [agg("MIN", "LT", 10)], [p(api="a", rt=50), W, p(api="a", rt=10), END],
     False),
    ("agg-p50-no", [agg("P50", "GT", 100)],
     [p(api="a", rt=10), W, p(api="a", rt=20), p(api="a", rt=30), END], False),
    ("agg-p99", [agg("P99", "GT", 500)], [p(api="a", rt=1000), W, p(api="a", rt=1000), END],
     True),
    # percentiles of 1..100 (within 1 %): P90 ~ 90, P99 ~ 99
    ("agg-p90", [agg("P90", "GTE", 85)], [p(api="a", rt=1), W, SPREAD, END], True),
    ("agg-p90-no", [agg("P90", "GT", 95)], [p(api="a", rt=1), W, SPREAD, END], False),
    ("agg-p99-spread", [agg("P99", "GT", 97)], [p(api="a", rt=1), W, SPREAD, END], True),
    ("agg-p50-spread-no", [agg("P50", "LT", 40)], [p(api="a", rt=60), W, SPREAD_DOWN, END],
     False),
    # RATE: % of window events matching status >= 500, with a minimum sample size
    ("rate", [rate("GT", 50, 4)],
     [p(status=500), W, p(status=500), p(status=500), p(status=500), p(status=200), END], True),
    ("rate-too-few-samples", [rate("GT", 50, 4)],
     [p(status=500), W, p(status=500), p(status=500), END], False),
    ("rate-below", [rate("GT", 50, 4)],
     [p(status=200), W, p(status=200), p(status=200), p(status=500), p(status=200), END],
     False),
    ("rate-lt-default-sample", [{"type": "RATE", "operator": "LT", "threshold": 40,
                                 "comparison": threshold("latency", "GTE", 500),
                                 "duration": 1, "timeUnit": "MINUTES"}],
     [p(latency=100), W, p(latency=100), ADV(59000)], True),
    # MISSING_DATA: fired by the timer with no event
    ("missing-fires", [missing()], [ADV(11000)], True),
    ("missing-not-yet", [missing()], [ADV(9000)], False),
    ("missing-event-resets", [missing()], [ADV(6000), p(x=1), ADV(6000)], False),
    ("missing-after-event", [missing()], [p(x=1), ADV(11000)], True),
    ("missing-minutes", [missing(duration=1, unit="MINUTES")], [ADV(59000)], False),
]


@pytest.mark.parametrize("cid,conditions,steps,fires", CASES, ids=[c[0] for c in CASES])
def test_condition(shared_daemon, cid, conditions, steps, fires):
    source = "SRC_" + cid.upper().replace("-", "_")
    run_fire_case(shared_daemon, cid, source,
                  {"severity": "INFO", "conditions": conditions,
                   "dampening": {"mode": "STRICT_COUNT", "trueEvaluations": 1}},
                  steps, fires)


def test_aggregation_alert_per_projection_key(shared_daemon):
    d = shared_daemon
    d.add_triggers({"id": "agg-keys", "name": "agg-keys", "source": "AGG_KEYS",
                    "conditions": [agg("COUNT", "GTE", 2, prop=None)]})
    d.send_events([{"type": "AGG_KEYS", "properties": {"api": k}} for k in ("a1", "a2", "a3")])
    d.sync()
    d.advance(1000)
    d.send_events([{"type": "AGG_KEYS", "properties": {"api": k}}
                   for k in ("a1", "a1", "a2", "a2")])
    d.sync()
    d.advance(9000)
    d.sync()
    alerts = d.alerts_of("agg-keys")
    assert sorted(a["projection"].get("api") for a in alerts) == ["a1", "a2"], alerts
    assert len({a["fingerprint"] for a in alerts}) == 2, alerts


def test_missing_data_per_projection_key(shared_daemon):
    d = shared_daemon
    d.add_triggers({"id": "missing-keys", "name": "missing-keys", "source": "MISSING_KEYS",
                    "conditions": [missing(projections=("api",))]})
    d.send_events({"type": "MISSING_KEYS", "properties": {"api": "k1"}})
    d.sync()
    d.advance(5000)
    d.send_events({"type": "MISSING_KEYS", "properties": {"api": "k2"}})
    d.sync()
    d.advance(6000)  # k1 silent for 11 s, k2 for 6 s
    d.sync()
    keys = [a["projection"].get("api") for a in d.alerts_of("missing-keys")]
    assert "k1" in keys, f"k1 silent for 11 s did not fire: {keys}"
    assert "k2" not in keys, f"k2 silent for 6 s fired: {keys}"
