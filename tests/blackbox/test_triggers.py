"""Trigger behaviour (filters, dampening, enabled, replace, AND/OR, context as properties,
notification periods) and trigger CRUD at /api/v1/triggers with persistence."""

import pytest

from helpers import (ADV, check_error, expect_status, response_time_trigger, run_fire_case,
                     string_cond, threshold, trigger, wait_for)

RT_GT_100 = [threshold("rt", "GT", 100)]
T = {"rt": 500}   # a true evaluation of RT_GT_100
F = {"rt": 50}    # a false one


def damp(mode, **kw):
    d = {"mode": mode}
    d.update(kw)
    return d


# (case id, trigger body without id/source, steps, fires)
CASES = [
    # filters: the event must pass every filter before the conditions are evaluated
    ("filter-other", {"filters": [string_cond("api", "EQUALS", "a1")], "conditions": RT_GT_100},
     [{"api": "a2", "rt": 500}], False),
    ("filter-match", {"filters": [string_cond("api", "EQUALS", "a1")], "conditions": RT_GT_100},
     [{"api": "a1", "rt": 500}], True),
    ("filter-match-cond-false", {"filters": [string_cond("api", "EQUALS", "a1")],
                                 "conditions": RT_GT_100}, [{"api": "a1", "rt": 50}], False),
    ("filter-two", {"filters": [string_cond("api", "EQUALS", "a1"),
                                threshold("status", "GTE", 500)], "conditions": RT_GT_100},
     [{"api": "a1", "rt": 500, "status": 200}], False),
    # dampening
    ("strict-1", {"conditions": RT_GT_100, "dampening": damp("STRICT_COUNT", trueEvaluations=1)},
     [T], True),
    ("strict-3-broken", {"conditions": RT_GT_100,
                         "dampening": damp("STRICT_COUNT", trueEvaluations=3)},
     [T, T, F, T, T], False),
    ("strict-3", {"conditions": RT_GT_100, "dampening": damp("STRICT_COUNT", trueEvaluations=3)},
     [T, T, F, T, T, T], True),
    ("strict-3-lowercase", {"conditions": RT_GT_100,
                            "dampening": {"mode": "strict_count", "trueEvaluations": 3}},
     [T, T, T], True),
    ("relaxed-2of3", {"conditions": RT_GT_100,
                      "dampening": damp("RELAXED_COUNT", trueEvaluations=2, totalEvaluations=3)},
     [T, F, T], True),
    ("relaxed-2of3-late", {"conditions": RT_GT_100,
                           "dampening": damp("RELAXED_COUNT", trueEvaluations=2,
                                             totalEvaluations=3)}, [F, T, T], True),
    ("relaxed-2of3-no", {"conditions": RT_GT_100,
                         "dampening": damp("RELAXED_COUNT", trueEvaluations=2,
                                           totalEvaluations=3)}, [T, F, F, F, T], False),
    ("relaxed-time", {"conditions": RT_GT_100,
                      "dampening": damp("RELAXED_TIME", trueEvaluations=2, duration=10,
                                        timeUnit="SECONDS")}, [T, ADV(4000), F, T], True),
    ("relaxed-time-no", {"conditions": RT_GT_100,
                         "dampening": damp("RELAXED_TIME", trueEvaluations=2, duration=10,
                                           timeUnit="SECONDS")}, [T, ADV(11000), T], False),
    ("strict-time", {"conditions": RT_GT_100,
                     "dampening": damp("STRICT_TIME", duration=10, timeUnit="SECONDS")},
     [T, ADV(5000), T, ADV(6000), T], True),
    ("strict-time-short", {"conditions": RT_GT_100,
                           "dampening": damp("STRICT_TIME", duration=10, timeUnit="SECONDS")},
     [T, ADV(5000), T], False),
    ("strict-time-broken", {"conditions": RT_GT_100,
                            "dampening": damp("STRICT_TIME", duration=10, timeUnit="SECONDS")},
     [T, ADV(5000), F, ADV(6000), T], False),
    # enabled:false is stored and disabled
    ("disabled", {"enabled": False, "conditions": RT_GT_100}, [T], False),
    # several conditions: AND by default, OR on request
    ("and-default", {"conditions": [threshold("rt", "GT", 1000), threshold("status", "GTE", 500)]},
     [{"rt": 50, "status": 500}], False),
    ("and-both", {"conditions": [threshold("rt", "GT", 1000), threshold("status", "GTE", 500)]},
     [{"rt": 2000, "status": 500}], True),
    ("and-explicit", {"conditionsOperator": "AND",
                      "conditions": [threshold("rt", "GT", 1000), threshold("status", "GTE", 500)]},
     [{"rt": 50, "status": 500}], False),
    ("or-one", {"conditionsOperator": "OR",
                "conditions": [threshold("rt", "GT", 1000), threshold("status", "GTE", 500)]},
     [{"rt": 50, "status": 500}], True),
    ("or-none", {"conditionsOperator": "OR",
                 "conditions": [threshold("rt", "GT", 1000), threshold("status", "GTE", 500)]},
     [{"rt": 50, "status": 200}], False),
    # context entries are visible as properties; a property of the same name wins
    ("context", {"conditions": [string_cond("node.hostname", "EQUALS", "gw-1")]},
     [{"context": {"node.hostname": "gw-1"}, "properties": {}}], True),
    ("context-other", {"conditions": [string_cond("node.hostname", "EQUALS", "gw-1")]},
     [{"context": {"node.hostname": "gw-2"}, "properties": {}}], False),
    ("context-no-properties", {"conditions": [string_cond("node.hostname", "EQUALS", "gw-1")]},
     [{"context": {"node.hostname": "gw-1"}}], True),
    ("context-property-wins", {"conditions": [string_cond("node.hostname", "EQUALS", "gw-1")]},
     [{"context": {"node.hostname": "gw-2"}, "properties": {"node.hostname": "gw-1"}}], True),
    ("context-filter", {"filters": [string_cond("installation", "EQUALS", "inst-1")],
                        "conditions": RT_GT_100},
     [{"context": {"installation": "inst-1"}, "properties": {"rt": 500}}], True),
]


@pytest.mark.parametrize("cid,body,steps,fires", CASES, ids=[c[0] for c in CASES])
def test_trigger_behaviour(shared_daemon, cid, body, steps, fires):
    source = "TRG_" + cid.upper().replace("-", "_")
    body = dict(body)
    body.setdefault("dampening", damp("STRICT_COUNT", trueEvaluations=1))
    run_fire_case(shared_daemon, cid, source, body, steps, fires)


def test_resending_same_id_replaces(daemon):
    d = daemon
    d.add_triggers(trigger("rep", source="REP", conditions=[threshold("rt", "GT", 1000)]))
    d.add_triggers(trigger("rep", source="REP", name="replaced",
                           conditions=[threshold("rt", "GT", 100)]))
    r = d.get("/api/v1/triggers")
    expect_status(r, 200)
    assert r.json()["total"] == 1, r.json()
    got = d.get("/api/v1/triggers/rep").json()
    assert got["name"] == "replaced"
    assert got["conditions"][0]["threshold"] == 100
    d.send_events({"type": "REP", "properties": {"rt": 500}})
    d.wait_alerts("rep")


def test_disable_then_enable(daemon):
    d = daemon
    body = trigger("toggle", source="TOGGLE", conditions=[threshold("rt", "GT", 100)])
    body["enabled"] = False
    d.add_triggers(body)
    got = d.get("/api/v1/triggers/toggle")
    expect_status(got, 200)
    assert got.json()["enabled"] is False
    d.send_events({"type": "TOGGLE", "properties": {"rt": 500}})
    d.sync()
    assert d.alerts_of("toggle") == []
    body["enabled"] = True
    d.add_triggers(body)
    d.send_events({"type": "TOGGLE", "properties": {"rt": 500}})
    d.wait_alerts("toggle")


def test_notification_periods(daemon, receiver):
    """A trigger-level period that does not include the engine's now suppresses the notification
    (the alert is still raised); once the clock is inside the period, notifications go out. The
    period crosses midnight on purpose (tocsin supports it, AE does not)."""
    d = daemon
    now_ms = d.advance(0)
    sod = (now_ms // 1000) % 86400  # seconds since midnight, UTC
    begin = (sod + 3600) % 86400
    end = (sod + 3600 + 86400 - 7200) % 86400  # everything except the two hours around now
    body = trigger("periods", source="PER",
                   conditions=[{"type": "STRING", "property": "api", "operator": "STARTS_WITH",
                                "pattern": "k", "projections": [
                                    {"type": "PROPERTY", "property": "api"}]}],
                   notifications=[{
                       "type": "webhook-notifier",
                       "configuration": {"url": receiver.url + "/p", "method": "POST",
                                         "body": "${notification.properties['api']}"}}],
                   notificationPeriods=[{"days": [1, 2, 3, 4, 5, 6, 7], "zoneId": "UTC",
                                         "beginHour": begin, "endHour": end}])
    d.add_triggers(body)
    d.send_events({"type": "PER", "properties": {"api": "k1"}})
    d.wait_alerts("periods")
    d.sync()
    assert d.notifications(trigger="periods")["total"] == 0
    assert receiver.received() == []
    later = d.advance(2 * 3600 * 1000)  # now + 2 h is inside the period
    d.send_events({"type": "PER", "properties": {"api": "k2"}})
    d.wait_alerts("periods", n=2)
    try:
        reqs = receiver.wait_for(1)
    except AssertionError as e:
        raise AssertionError(f"{e}\nperiod begin={begin} end={end}, engine now {now_ms} -> "
                             f"{later} (second of day {(later // 1000) % 86400})\nalerts: "
                             f"{d.alerts_of('periods')}\nnotifications: "
                             f"{d.notifications(trigger='periods')}") from None
    assert reqs[0]["body"] == b"k2", reqs[0]["body"]


# ---- CRUD ------------------------------------------------------------------------------------

def test_crud_roundtrip(daemon, receiver):
    d = daemon
    sent = response_time_trigger("crud-1", receiver.url)
    sent["severity"] = "warning"
    sent["conditions"][0]["type"] = "threshold"
    sent["conditions"][0]["operator"] = "lt"
    sent["dampening"]["mode"] = "strict_count"
    sent["metadata"] = {"api": {"owner": "team-a"}}
    r = d.post("/api/v1/triggers", sent)
    expect_status(r, 201, "POST /api/v1/triggers")
    stored = r.json()
    assert stored["id"] == "crud-1"
    assert stored["name"] == "Response time Threshold"
    assert stored["severity"] == "WARNING"
    assert stored["conditions"][0]["type"] == "THRESHOLD"
    assert stored["conditions"][0]["operator"] == "LT"
    assert stored["conditions"][0]["property"] == "response.response_time"
    assert stored["conditions"][0]["threshold"] == 1500
    assert stored["dampening"]["mode"] == "STRICT_COUNT"
    assert stored["metadata"] == {"api": {"owner": "team-a"}}
    assert stored["notifications"][0]["type"] == "webhook-notifier"
    assert stored["notifications"][0]["configuration"]["body"] == sent["notifications"][0][
        "configuration"]["body"]
    assert isinstance(stored["created_at"], int) and stored["created_at"] > 0, stored
    assert isinstance(stored["updated_at"], int) and stored["updated_at"] >= stored["created_at"]

    got = d.get("/api/v1/triggers/crud-1")
    expect_status(got, 200)
    assert got.json() == stored

    lst = d.get("/api/v1/triggers")
    expect_status(lst, 200)
    assert lst.json()["total"] == 1
    assert [t["id"] for t in lst.json()["triggers"]] == ["crud-1"]

    changed = dict(sent, name="Renamed", description="changed")
    r = d.put("/api/v1/triggers/crud-1", changed)
    expect_status(r, 200, "PUT /api/v1/triggers/crud-1")
    assert r.json()["name"] == "Renamed"
    assert r.json()["created_at"] == stored["created_at"]
    assert r.json()["updated_at"] >= stored["updated_at"]
    assert d.get("/api/v1/triggers/crud-1").json()["name"] == "Renamed"

    # PUT without an id in the body takes the id from the path.
    no_id = {k: v for k, v in changed.items() if k != "id"}
    no_id["name"] = "No id in body"
    r = d.put("/api/v1/triggers/crud-1", no_id)
    expect_status(r, 200, "PUT without body id")
    assert r.json()["id"] == "crud-1"

    r = d.delete("/api/v1/triggers/crud-1")
    assert r.status_code == 204, (r.status_code, r.text)
    check_error(d.get("/api/v1/triggers/crud-1"), 404)
    check_error(d.delete("/api/v1/triggers/crud-1"), 404)
    assert d.get("/api/v1/triggers").json()["total"] == 0

    # A deleted trigger does not fire any more.
    d.send_events({"type": "REQUEST", "properties": {"response.response_time": 1}})
    d.sync()
    assert d.alerts_of("crud-1") == []
    assert receiver.received() == []


def test_crud_errors(daemon):
    d = daemon
    check_error(d.get("/api/v1/triggers/does-not-exist"), 404)
    check_error(d.delete("/api/v1/triggers/does-not-exist"), 404)
    d.add_triggers(trigger("t1"))
    r = d.put("/api/v1/triggers/t1", trigger("t2"))
    check_error(r, 400, "id")
    assert d.get("/api/v1/triggers/t2").status_code == 404
    bad = trigger("t1")
    bad["conditions"][0]["operator"] = "LESS"
    check_error(d.put("/api/v1/triggers/t1", bad), 400, "conditions[0].operator")
    check_error(d.post("/api/v1/triggers", bad), 400, "conditions[0].operator")
    assert d.get("/api/v1/triggers/t1").json()["conditions"][0]["operator"] == "LT"


def test_list_paging(daemon):
    d = daemon
    d.add_triggers([trigger(f"page-{i}") for i in range(5)])
    first = d.get("/api/v1/triggers", params={"limit": 2})
    expect_status(first, 200)
    assert first.json()["total"] == 5
    assert len(first.json()["triggers"]) == 2
    seen = []
    for offset in (0, 2, 4):
        page = d.get("/api/v1/triggers", params={"limit": 2, "offset": offset}).json()
        assert page["total"] == 5
        seen += [t["id"] for t in page["triggers"]]
    assert sorted(seen) == [f"page-{i}" for i in range(5)], seen
    assert d.get("/api/v1/triggers", params={"offset": 10}).json()["triggers"] == []


def test_triggers_persist_across_restart(daemon, receiver):
    d = daemon
    d.add_triggers([response_time_trigger("keep-1", receiver.url, source="KEEP"),
                    trigger("keep-2", source="OTHER")])
    before = {t: d.get(f"/api/v1/triggers/{t}").json() for t in ("keep-1", "keep-2")}
    d.restart()
    for tid, body in before.items():
        r = d.get(f"/api/v1/triggers/{tid}")
        expect_status(r, 200, f"GET {tid} after restart")
        assert r.json() == body
    assert d.get("/api/v1/triggers").json()["total"] == 2
    d.send_events({"type": "KEEP", "properties": {"response.response_time": 3}})
    wait_for(lambda: receiver.received(), what="webhook after restart")
