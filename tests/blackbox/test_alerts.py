"""Alerts raised by triggers: the alert record, list filters and paging, GET by id, auto-resolve
and resolve notifications (time passes only on the test clock)."""

import re

from helpers import check_error, expect_status, threshold, trigger, wait_for

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_alert_record(daemon):
    """A trigger's alert is an alert of the alert store: the trigger's name is its event, its
    source (or projection values) its resource, the firing event's properties its rawData."""
    d = daemon
    d.add_triggers(trigger("al-1", name="High latency", source="REQUEST", severity="CRITICAL",
                           description="latency over 100 ms",
                           conditions=[threshold("rt", "GT", 100)]))
    d.send_events({"type": "REQUEST", "properties": {"rt": 500, "api": "a1"}})
    alert = d.wait_alerts("al-1")[0]
    a = alert["alert"]
    assert alert["trigger"] == "al-1" and alert["status"] == "open"
    assert a["event"] == "High latency" and a["resource"] == "REQUEST"
    assert a["severity"] == "critical" and a["origin"] == "trigger/al-1"
    assert a["type"] == "triggerAlert" and a["source"] == "trigger"
    assert alert["count"] == 1
    assert alert["properties"].get("rt") == 500, alert["properties"]
    assert alert["properties"].get("api") == "a1", alert["properties"]
    assert len(a["id"]) == 36 and a["fingerprint"]
    for k in ("createTime", "receiveTime", "lastReceiveTime", "updateTime"):
        assert ISO.match(a.get(k) or ""), f"{k} = {a.get(k)!r} is not ISO-8601 UTC"
    assert isinstance(a["text"], str) and a["text"]

    # A second true evaluation is a duplicate of the same alert.
    d.send_events({"type": "REQUEST", "properties": {"rt": 700, "api": "a1"}})
    wait_for(lambda: d.alerts_of("al-1")[0]["count"] == 2, what="alert count 2")
    alerts = d.alerts_of("al-1")
    assert len(alerts) == 1, alerts
    again = alerts[0]["alert"]
    assert again["id"] == a["id"] and again["fingerprint"] == a["fingerprint"]
    assert again["duplicateCount"] == 1 and again["repeat"] is True
    assert again["createTime"] >= a["createTime"]
    assert alerts[0]["properties"].get("rt") == 700

    r = d.get(f"/api/v1/alerts/{a['id']}")
    expect_status(r, 200, "GET /api/v1/alerts/{id}")
    assert r.json()["alert"]["id"] == a["id"]
    assert r.json()["alert"]["attributes"]["count"] == 2
    check_error(d.get("/api/v1/alerts/00000000-0000-4000-8000-000000000000"), 404)
    check_error(d.get("/api/v1/alerts/no-such-alert"), 404)


def test_alert_per_projection_key(daemon):
    d = daemon
    d.add_triggers(trigger("proj", source="REQUEST", conditions=[
        {"type": "STRING", "property": "status", "operator": "EQUALS", "pattern": "500",
         "projections": [{"type": "PROPERTY", "property": "api"}]}]))
    d.send_events([{"type": "REQUEST", "properties": {"status": "500", "api": a}}
                   for a in ("a1", "a2", "a1")])
    alerts = d.wait_alerts("proj", n=2)
    wait_for(lambda: sum(a["count"] for a in d.alerts_of("proj")) == 3, what="3 fires")
    alerts = d.alerts_of("proj")
    assert len(alerts) == 2, alerts
    by_key = {a["projection"]["api"]: a for a in alerts}
    assert sorted(by_key) == ["a1", "a2"]
    assert by_key["a1"]["count"] == 2 and by_key["a2"]["count"] == 1
    assert by_key["a1"]["fingerprint"] != by_key["a2"]["fingerprint"]


def test_alert_filters_and_paging(daemon):
    d = daemon
    for sev in ("INFO", "WARNING", "CRITICAL"):
        d.add_triggers(trigger(f"sev-{sev.lower()}", source=f"S_{sev}", severity=sev,
                               conditions=[threshold("v", "GT", 0)]))
        d.send_events({"type": f"S_{sev}", "properties": {"v": 1}})
    for sev in ("info", "warning", "critical"):
        d.wait_alerts(f"sev-{sev}")

    everything = d.alerts()
    assert everything["total"] == 3, everything
    assert {a["severity"] for a in everything["alerts"]} == {"info", "warning", "critical"}
    crit = d.alerts(severity="critical")
    assert crit["total"] == 1 and [a["trigger"] for a in crit["alerts"]] == ["sev-critical"]
    assert d.alerts(status="open")["total"] == 3
    resolved = d.alerts(status="resolved")
    assert resolved["alerts"] == [] and resolved["total"] == 0, resolved
    assert d.alerts(status="open", severity="warning")["total"] == 1
    assert [a["severity"] for a in d.alerts(trigger="sev-info")["alerts"]] == ["info"]
    assert d.alerts(trigger="nope")["total"] == 0

    page1 = d.alerts(**{"page-size": 2})
    assert page1["total"] == 3 and page1["pageSize"] == 2 and page1["page"] == 1
    assert len(page1["alerts"]) == 2 and page1["more"] is True
    page2 = d.alerts(**{"page-size": 2, "page": 2})
    assert page2["total"] == 3 and len(page2["alerts"]) == 1
    ids = [a["id"] for a in page1["alerts"] + page2["alerts"]]
    assert len(set(ids)) == 3, ids
    for bad in ({"page": "lots"}, {"page-size": "-1"}, {"q": "status:("}):
        r = d.get("/api/v1/alerts", params=bad)
        check_error(r, 400)


RESOLVE_BODY = "${alert.name}|${alert.status}"


def resolving_trigger(tid, url, notify_on_resolve):
    t = trigger(tid, name=tid, source="RES", conditions=[threshold("rt", "GT", 100)],
                resolveAfter={"duration": 10, "timeUnit": "SECONDS"},
                notifications=[{"type": "webhook-notifier", "configuration": {
                    "url": url, "method": "POST", "body": RESOLVE_BODY,
                    "headers": [{"name": "Content-Type", "value": "text/plain"}]}}])
    if notify_on_resolve:
        t["notifyOnResolve"] = True
    return t


def test_auto_resolve_with_resolve_notification(daemon, receiver):
    d = daemon
    d.add_triggers(resolving_trigger("res-1", receiver.url, True))
    d.send_events({"type": "RES", "properties": {"rt": 500}})
    first = receiver.wait_for(1)[0]
    assert first["body"] == b"res-1|open", first["body"]
    alert = d.wait_alerts("res-1")[0]
    assert alert["status"] == "open"

    d.send_events({"type": "RES", "properties": {"rt": 50}})
    d.sync()
    d.advance(5000)
    d.sync()
    assert d.alerts_of("res-1")[0]["status"] == "open", "resolved before resolveAfter elapsed"
    d.advance(5000)  # conditions false for 10 s now

    wait_for(lambda: d.alerts_of("res-1", status="resolved"), what="alert resolved")
    got = d.get(f"/api/v1/alerts/{alert['id']}").json()["alert"]
    assert got["status"] == "closed" and got["severity"] == "normal"
    assert got["previousSeverity"] == "informational"
    assert d.alerts(trigger="res-1", status="open")["total"] == 0

    reqs = receiver.wait_for(2)
    assert reqs[1]["body"] == b"res-1|resolved", reqs[1]["body"]
    notes = wait_for(lambda: (lambda n: n if n["total"] == 2 and all(
        x["status"] == "delivered" for x in n["notifications"]) else None)(
        d.notifications(trigger="res-1")), what="2 delivered notifications")
    assert sorted(x["resolve"] for x in notes["notifications"]) == [False, True]


def test_auto_resolve_without_resolve_notification(daemon, receiver):
    d = daemon
    d.add_triggers(resolving_trigger("res-2", receiver.url, False))
    d.send_events([{"type": "RES", "properties": {"rt": 500}},
                   {"type": "RES", "properties": {"rt": 1}}])
    receiver.wait_for(1)
    d.sync()
    d.advance(10000)
    wait_for(lambda: d.alerts_of("res-2", status="resolved"), what="alert resolved")
    d.sync()
    assert len(receiver.received()) == 1, [r["body"] for r in receiver.received()]
    assert d.notifications(trigger="res-2")["total"] == 1


def test_true_evaluation_restarts_the_resolve_period(daemon, receiver):
    d = daemon
    d.add_triggers(resolving_trigger("res-3", receiver.url, True))
    d.send_events([{"type": "RES", "properties": {"rt": 500}},
                   {"type": "RES", "properties": {"rt": 1}}])
    d.sync()
    d.advance(5000)
    d.send_events([{"type": "RES", "properties": {"rt": 500}},
                   {"type": "RES", "properties": {"rt": 1}}])
    d.sync()
    d.advance(6000)  # 11 s after the first false, 6 s after the last one
    d.sync()
    alerts = d.alerts_of("res-3")
    assert [a["status"] for a in alerts] == ["open"], alerts
    d.advance(5000)
    wait_for(lambda: d.alerts_of("res-3", status="resolved"), what="alert resolved")
