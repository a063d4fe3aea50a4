"""The Alerta-compatible API (/alerta) against the real daemon, mirroring Alerta 9's own HTTP-level
behaviour: create, duplicate, correlate, re-open, expire, history cap, filters and q=, actions and
their 409s, shelving, tags, attributes, notes, delete, housekeeping; plus the native batch ingest,
a restart after kill -9, and eight clients posting the same new alert at once."""
import http.client
import json
import threading

import pytest
import requests

from helpers import expect_status, trigger, threshold


def alert(resource="web01", event="HttpError", severity="major", **kw):
    a = {"resource": resource, "event": event, "environment": "Production", "severity": severity,
         "service": ["Web"], "text": "HTTP 500", "value": "500", "tags": ["t1"],
         "origin": "test/blackbox"}
    a.update(kw)
    return a


def post(d, a, status=201):
    r = d.post("/alerta/alert", a)
    expect_status(r, status, f"POST /alerta/alert {a}")
    return r.json()


def get(d, aid):
    r = d.get(f"/alerta/alert/{aid}")
    expect_status(r, 200, f"GET /alerta/alert/{aid}")
    return r.json()["alert"]


def action(d, aid, act, status=200, **kw):
    r = d.put(f"/alerta/alert/{aid}/action", dict(action=act, **kw))
    expect_status(r, status, f"PUT action {act}")
    return r.json()


def listing(d, **params):
    r = d.get("/alerta/alerts", params=params)
    expect_status(r, 200, f"GET /alerta/alerts {params}")
    return r.json()


# ---- create / validate ----------------------------------------------------------------------

def test_create(daemon):
    body = post(daemon, alert())
    assert body["status"] == "ok"
    a = body["alert"]
    assert body["id"] == a["id"] and len(a["id"]) == 36
    assert a["status"] == "open" and a["severity"] == "major"
    assert a["previousSeverity"] == "indeterminate" and a["trendIndication"] == "moreSevere"
    assert a["duplicateCount"] == 0 and a["repeat"] is False
    assert a["service"] == ["Web"] and a["group"] == "Misc" and a["type"] == "exceptionAlert"
    assert a["timeout"] == 86400 and a["customer"] is None
    assert a["lastReceiveId"] == a["id"]
    assert a["href"].endswith(f"/alerta/alert/{a['id']}")
    assert len(a["fingerprint"]) == 32
    got = get(daemon, a["id"])
    assert got["resource"] == "web01" and got["text"] == "HTTP 500"
    assert [h["type"] for h in got["history"]] == ["new"]
    assert got["history"][0]["status"] == "open"


@pytest.mark.parametrize("body,field,msg", [
    ({"event": "e"}, "resource", 'Missing mandatory value for "resource"'),
    ({"resource": "r"}, "event", 'Missing mandatory value for "event"'),
    ({"resource": "r", "event": "e", "severity": "bad"}, "severity", "Severity (bad) is not one of"),
    ({"resource": "r", "event": "e", "attributes": {"a.b": 1}}, "attributes", '"." or "$"'),
    ({"resource": "r", "event": "e", "tags": "x"}, "tags", "tags must be a list"),
    ({"resource": "r", "event": "e", "timeout": "x"}, "timeout", "timeout must be an integer"),
    ({"resource": "r", "event": "e", "customer": ""}, "customer", "must not be an empty string"),
])
def test_validation(daemon, body, field, msg):
    r = daemon.post("/alerta/alert", body)
    expect_status(r, 400)
    j = r.json()
    assert j["status"] == "error" and j["code"] == 400
    assert msg in j["message"], j
    assert j.get("field", "").startswith(field), j


def test_bad_json_and_method(daemon):
    r = daemon.request("POST", "/alerta/alert", data="{nope",
                       headers={"Content-Type": "application/json"})
    expect_status(r, 400)
    assert r.json()["status"] == "error"
    expect_status(daemon.get("/alerta/alert/00000000-0000-4000-8000-000000000000"), 404)
    expect_status(daemon.get("/alerta/nothing"), 404)


# ---- duplicate / correlate / re-open --------------------------------------------------------

def test_duplicate(daemon):
    a = post(daemon, alert(tags=["t1"]))["alert"]
    b = post(daemon, alert(tags=["t2"], text="again", group="Other"))["alert"]
    assert b["id"] == a["id"]
    assert b["duplicateCount"] == 1 and b["repeat"] is True
    assert b["lastReceiveId"] != a["id"]
    assert sorted(b["tags"]) == ["t1", "t2"]
    assert b["text"] == "again" and b["group"] == "Misc"  # group is not taken by a duplicate
    assert b["createTime"] == a["createTime"]
    got = get(daemon, a["id"])
    assert [h["type"] for h in got["history"]] == ["new"]  # no status change, same value


def test_correlate_same_event(daemon):
    a = post(daemon, alert(severity="minor"))["alert"]
    post(daemon, alert(severity="minor"))
    b = post(daemon, alert(severity="critical"))["alert"]
    assert b["id"] == a["id"]
    assert b["severity"] == "critical" and b["previousSeverity"] == "minor"
    assert b["trendIndication"] == "moreSevere"
    assert b["duplicateCount"] == 0 and b["repeat"] is False
    hist = get(daemon, a["id"])["history"]
    assert hist[0]["type"] == "severity" and hist[0]["severity"] == "critical"


def test_correlate_list_and_normal_closes(daemon):
    a = post(daemon, alert(resource="node1", event="NodeDown", severity="critical",
                           correlate=["NodeDown", "NodeUp"]))["alert"]
    assert set(a["correlate"]) == {"NodeDown", "NodeUp"}
    b = post(daemon, alert(resource="node1", event="NodeUp", severity="normal"))["alert"]
    assert b["id"] == a["id"] and b["event"] == "NodeUp"
    assert b["status"] == "closed"
    c = post(daemon, alert(resource="node1", event="DiskFull", severity="major"))["alert"]
    assert c["id"] != a["id"]


def test_reopen(daemon):
    a = post(daemon, alert(severity="critical"))["alert"]
    action(daemon, a["id"], "close")
    assert get(daemon, a["id"])["status"] == "closed"
    b = post(daemon, alert(severity="critical"))["alert"]
    assert b["id"] == a["id"] and b["status"] == "open"


def test_ack_reopened_by_severity_increase(daemon):
    a = post(daemon, alert(severity="minor"))["alert"]
    action(daemon, a["id"], "ack")
    assert post(daemon, alert(severity="minor"))["alert"]["status"] == "ack"
    assert post(daemon, alert(severity="critical"))["alert"]["status"] == "open"


# ---- actions --------------------------------------------------------------------------------

def test_actions_and_conflicts(daemon):
    aid = post(daemon, alert())["id"]
    assert action(daemon, aid, "ack", text="mine") == {"status": "ok"}
    assert get(daemon, aid)["status"] == "ack"
    j = action(daemon, aid, "ack", status=409)
    assert j["status"] == "error" and "already in ack status" in j["message"]
    action(daemon, aid, "unack")
    assert get(daemon, aid)["status"] == "open"
    action(daemon, aid, "unshelve", status=409)
    action(daemon, aid, "escalate")  # a custom action: nothing changes but history
    got = get(daemon, aid)
    assert got["status"] == "open"
    assert [h["type"] for h in got["history"]][:3] == ["action", "unack", "ack"]
    assert got["history"][2]["text"] == "mine"
    action(daemon, aid, "close")
    got = get(daemon, aid)
    assert got["status"] == "closed" and got["severity"] == "normal"
    action(daemon, aid, "open")
    assert get(daemon, aid)["severity"] == "major"
    r = daemon.put(f"/alerta/alert/{aid}/action", {"text": "no action"})
    expect_status(r, 400)
    r = daemon.put("/alerta/alert/00000000-0000-4000-8000-000000000000/action",
                   {"action": "ack"})
    expect_status(r, 404)


def test_shelve_timeout(daemon):
    aid = post(daemon, alert(timeout=0))["id"]
    action(daemon, aid, "ack")
    action(daemon, aid, "shelve", timeout=300)
    daemon.advance(299_000)
    assert get(daemon, aid)["status"] == "shelved"
    daemon.advance(1_000)
    got = get(daemon, aid)
    assert got["status"] == "ack"  # back to what it was before
    assert got["history"][0]["type"] == "timeout"


def test_status_endpoint(daemon):
    aid = post(daemon, alert())["id"]
    r = daemon.put(f"/alerta/alert/{aid}/status", {"status": "assign", "text": "to bob"})
    expect_status(r, 200)
    assert get(daemon, aid)["status"] == "assign"
    expect_status(daemon.put(f"/alerta/alert/{aid}/status", {"status": "bogus"}), 400)


def test_id_prefix(daemon):
    aid = post(daemon, alert())["id"]
    assert get(daemon, aid[:8])["id"] == aid
    assert get(daemon, aid[:6].upper())["id"] == aid  # Alerta matches any prefix, any case
    action(daemon, aid[:8], "ack")
    assert get(daemon, aid)["status"] == "ack"
    expect_status(daemon.delete(f"/alerta/alert/{aid[:8]}"), 200)
    expect_status(daemon.get(f"/alerta/alert/{aid[:8]}"), 404)
    expect_status(daemon.get(f"/alerta/alert/{aid}"), 404)


def test_tags_attributes_notes_delete(daemon):
    aid = post(daemon, alert(attributes={"region": "eu", "owner": "ops"}))["id"]
    expect_status(daemon.put(f"/alerta/alert/{aid}/tag", {"tags": ["x", "y"]}), 200)
    expect_status(daemon.put(f"/alerta/alert/{aid}/untag", {"tags": ["t1"]}), 200)
    assert sorted(get(daemon, aid)["tags"]) == ["x", "y"]
    expect_status(daemon.put(f"/alerta/alert/{aid}/tag", {"tags": "x"}), 400)
    r = daemon.put(f"/alerta/alert/{aid}/attributes", {"attributes": {"owner": None, "n": 3}})
    expect_status(r, 200)
    assert get(daemon, aid)["attributes"] == {"region": "eu", "n": 3}
    r = daemon.put(f"/alerta/alert/{aid}/note", {"text": "looking at it"})
    expect_status(r, 201)
    note = r.json()["note"]
    assert note["text"] == "looking at it" and note["related"]["alert"] == aid
    r = daemon.get(f"/alerta/alert/{aid}/notes")
    expect_status(r, 200)
    assert [n["text"] for n in r.json()["notes"]] == ["looking at it"]
    assert get(daemon, aid)["history"][0]["type"] == "note"
    expect_status(daemon.delete(f"/alerta/alert/{aid}"), 200)
    expect_status(daemon.get(f"/alerta/alert/{aid}"), 404)


# ---- time -----------------------------------------------------------------------------------

def test_expire_and_delete(daemon):
    aid = post(daemon, alert(timeout=60))["id"]
    daemon.advance(59_000)
    assert get(daemon, aid)["status"] == "open"
    daemon.advance(2_000)
    got = get(daemon, aid)
    assert got["status"] == "expired" and got["history"][0]["type"] == "expired"
    # a new non-normal alert re-opens an expired one
    assert post(daemon, alert(timeout=60))["alert"]["status"] == "open"
    daemon.advance(61_000)
    daemon.advance(7200_000)  # closed/expired alerts are deleted 2 h after their last receive
    expect_status(daemon.get(f"/alerta/alert/{aid}"), 404)


def test_housekeeping_endpoint(daemon):
    aid = post(daemon, alert())["id"]
    action(daemon, aid, "close")
    r = daemon.post("/alerta/management/housekeeping")
    expect_status(r, 200)
    assert r.json()["status"] == "ok" and r.json()["deleted"] == 0
    daemon.advance(3_600_000 * 2)
    expect_status(daemon.get(f"/alerta/alert/{aid}"), 404)
    aid = post(daemon, alert(resource="other"))["id"]
    action(daemon, aid, "close")
    daemon.advance(3_600_000)
    r = daemon.post("/alerta/management/housekeeping?expired=1")
    expect_status(r, 200)
    assert r.json()["deleted"] == 1
    expect_status(daemon.post("/alerta/management/housekeeping?expired=x"), 400)


def test_history_limit(daemon_factory):
    d = daemon_factory(config={"alerts": {"history_limit": "5"}})
    aid = post(d, alert())["id"]
    for i in range(6):
        action(d, aid, "ack" if i % 2 == 0 else "unack")
    hist = get(d, aid)["history"]
    assert len(hist) == 5
    assert hist[0]["type"] == "unack"


# ---- queries --------------------------------------------------------------------------------

def seed(d):
    post(d, alert(resource="web01", event="HttpError", severity="critical", service=["Web"],
                  attributes={"region": "eu"}, text="HTTP 500 on web01"))
    post(d, alert(resource="web02", event="HttpError", severity="minor", service=["Web"],
                  attributes={"region": "us"}, text="HTTP 503 on web02"))
    post(d, alert(resource="db01", event="DiskFull", severity="major", service=["Database"],
                  environment="Development", tags=["disk"], text="disk 95%"))
    cid = post(d, alert(resource="db02", event="DiskFull", severity="warning",
                        service=["Database"]))["id"]
    action(d, cid, "close")


def test_list_filters(daemon):
    seed(daemon)
    body = listing(daemon)
    assert body["status"] == "ok" and body["total"] == 4
    assert "history" not in body["alerts"][0] and "rawData" not in body["alerts"][0]
    assert body["statusCounts"].get("open") == 3 and body["statusCounts"].get("closed") == 1
    assert listing(daemon, status="open")["total"] == 3
    assert listing(daemon, environment="Development")["total"] == 1
    assert listing(daemon, severity=["critical", "minor"])["total"] == 2
    assert listing(daemon, **{"resource!": "web01"})["total"] == 3
    assert listing(daemon, resource="~^WEB")["total"] == 2
    assert listing(daemon, service="Database")["total"] == 2
    assert listing(daemon, tag="disk")["total"] == 1
    assert listing(daemon, **{"attributes.region": "eu"})["total"] == 1
    assert listing(daemon, q="resource:web01")["total"] == 1
    assert listing(daemon, q="text:disk*")["total"] == 1
    assert listing(daemon, q="severity:(critical OR major)")["total"] == 2
    r = daemon.get("/alerta/alerts", params={"q": "resource:("})
    expect_status(r, 400)


def test_list_paging_and_sort(daemon):
    seed(daemon)
    body = listing(daemon, **{"page-size": 2, "page": 1})
    assert len(body["alerts"]) == 2 and body["pages"] == 2 and body["more"] is True
    body = listing(daemon, **{"page-size": 2, "page": 2})
    assert len(body["alerts"]) == 2 and body["more"] is False
    r = daemon.get("/alerta/alerts", params={"page-size": 2, "page": 5})
    expect_status(r, 416)
    # Alerta's default order: most severe first
    sevs = [a["severity"] for a in listing(daemon, status="open")["alerts"]]
    assert sevs == ["critical", "major", "minor"]
    res = [a["resource"] for a in listing(daemon, **{"sort-by": "resource"})["alerts"]]
    assert res == ["db01", "db02", "web01", "web02"]
    res = [a["resource"] for a in listing(daemon, **{"sort-by": "-resource"})["alerts"]]
    assert res == ["web02", "web01", "db02", "db01"]
    full = listing(daemon, **{"show-history": "true", "show-raw-data": "true"})["alerts"][0]
    assert [h["type"] for h in full["history"]] == ["new"] and "rawData" in full


def test_counts_top10_facets(daemon):
    seed(daemon)
    r = daemon.get("/alerta/alerts/count")
    expect_status(r, 200)
    assert r.json()["total"] == 4
    r = daemon.get("/alerta/alerts/count", params={"status": "open"})
    assert r.json()["total"] == 3 and r.json()["statusCounts"] == {"open": 3}
    r = daemon.get("/alerta/alerts/top10/count")
    expect_status(r, 200)
    top = {t["event"]: t for t in r.json()["top10"]}
    assert top["HttpError"]["count"] == 2 and top["HttpError"]["services"] == ["Web"]
    assert sorted(x["resource"] for x in top["HttpError"]["resources"]) == ["web01", "web02"]
    for kind in ("flapping", "standing"):
        r = daemon.get(f"/alerta/alerts/top10/{kind}")
        expect_status(r, 200)
        assert isinstance(r.json()["top10"], list)
    r = daemon.get("/alerta/environments")
    envs = {e["environment"]: e for e in r.json()["environments"]}
    assert envs["Development"]["count"] == 1 and envs["Production"]["count"] == 3
    assert envs["Production"]["severityCounts"]["critical"] == 1
    r = daemon.get("/alerta/services")
    svcs = {(s["environment"], s["service"]): s["count"] for s in r.json()["services"]}
    assert svcs[("Production", "Web")] == 2 and svcs[("Production", "Database")] == 1
    r = daemon.get("/alerta/alerts/groups")
    assert {(g["environment"], g["group"]): g["count"] for g in r.json()["groups"]} == \
        {("Development", "Misc"): 1, ("Production", "Misc"): 3}
    r = daemon.get("/alerta/alerts/tags")
    tags = {(t["environment"], t["tag"]): t["count"] for t in r.json()["tags"]}
    assert tags[("Development", "disk")] == 1 and tags[("Production", "t1")] == 3
    r = daemon.get("/alerta/alerts/history")
    expect_status(r, 200)
    types = sorted(h["type"] for h in r.json()["history"])
    assert types.count("new") == 4 and "close" in types


def raw_get(d, target):
    """GET with the request target exactly as given (requests drops a trailing '?')."""
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    try:
        c.request("GET", target)
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


def test_empty_query_parameters(daemon):
    """A trailing '?' or '&' (a client joining an empty parameter list) is no parameter: it
    once read as a parameter named '/' and failed the query with a 400."""
    seed(daemon)
    for target, total in (("/alerta/alerts?", 4), ("/alerta/alerts/count?", 4),
                          ("/alerta/alerts/count?status=open&", 3),
                          ("/alerta/alerts/count?status=open&&status=closed&", 4),
                          ("/api/v1/alerts?&", 4)):
        status, body = raw_get(daemon, target)
        assert status == 200 and body["total"] == total, (target, body)
    status, body = raw_get(daemon, "/alerta/environments?")
    assert status == 200 and body["total"] == 2
    status, body = raw_get(daemon, "/alerta/alerts/count?bogus=1&")
    assert status == 400 and body["field"] == "bogus"


FACETS = ("environments", "services", "alerts/groups", "alerts/tags", "alerts/top10/count")


def facets_both_ways(d, params):
    """Each facet as the engine's counts answer it, and as counting the rows answers it (a
    filter that matches every alert sends it there): they must agree."""
    out = {}
    for path in FACETS:
        kept = d.get(f"/alerta/{path}", params=params)
        rows = d.get(f"/alerta/{path}", params=params + [("resource!", "no-such-resource")])
        expect_status(kept, 200, path)
        expect_status(rows, 200, path)
        assert kept.json() == rows.json(), (path, params)
        out[path] = kept.json()
    return out


def test_facets_follow_every_change(daemon):
    """/environments, /services, /alerts/groups and /alerts/tags filtered by status and
    environment alone, and /alerts/top10/count by status alone, come from the engine's counts: after creates, duplicates that change services and tags,
    correlations, tag and untag, actions and a delete, and again after a restart, they answer
    what counting the rows answers."""
    d = daemon
    a = post(d, alert(resource="w1", service=["Web", "Api"], tags=["eu"], group="Frontend"))
    post(d, alert(resource="w2", severity="critical", service=["Web"], tags=[]))
    b = post(d, alert(resource="db1", event="DiskFull", environment="Development",
                      service=["Db"], tags=["disk", "eu"], group="Storage"))
    post(d, alert(resource="w1", service=["Web"], tags=["paris"], group="Frontend"))  # dup
    post(d, alert(resource="w2", severity="minor", service=["Api"]))  # correlated
    expect_status(d.put(f"/alerta/alert/{b['id']}/tag", {"tags": ["ssd"]}), 200, "tag")
    expect_status(d.put(f"/alerta/alert/{b['id']}/untag", {"tags": ["eu"]}), 200, "untag")
    action(d, a["id"], "ack")
    c = post(d, alert(resource="gone", service=["Tmp"], tags=["tmp"]))
    expect_status(d.delete(f"/alerta/alert/{c['id']}"), 200, "DELETE")
    for params in ([], [("status", "open")], [("status", "ack"), ("status", "closed")],
                   [("environment", "Production")],
                   [("status", "open"), ("environment", "Development")]):
        facets_both_ways(d, params)
    got = facets_both_ways(d, [])
    assert {(s["environment"], s["service"]): s["count"] for s in got["services"]["services"]} \
        == {("Production", "Web"): 1, ("Production", "Api"): 1, ("Development", "Db"): 1}
    assert {(t["environment"], t["tag"]): t["count"] for t in got["alerts/tags"]["tags"]} == \
        {("Production", "eu"): 1, ("Production", "paris"): 1, ("Production", "t1"): 1,
         ("Development", "disk"): 1, ("Development", "ssd"): 1}
    assert {(g["environment"], g["group"]): g["count"] for g in got["alerts/groups"]["groups"]} \
        == {("Production", "Frontend"): 1, ("Production", "Misc"): 1,
            ("Development", "Storage"): 1}
    # the filter facets_both_ways adds to count rows does filter
    r = d.get("/alerta/services", params=[("resource!", "w1")]).json()["services"]
    assert {(s["environment"], s["service"]): s["count"] for s in r} == \
        {("Production", "Web"): 0, ("Production", "Api"): 1, ("Development", "Db"): 1}
    top = {t["event"]: t for t in got["alerts/top10/count"]["top10"]}
    assert top["HttpError"]["count"] == 2 and top["HttpError"]["duplicateCount"] == 1
    assert top["HttpError"]["services"] == ["Api", "Web"]
    assert sorted(x["resource"] for x in top["HttpError"]["resources"]) == ["w1", "w2"]
    opened = facets_both_ways(d, [("status", "open")])["environments"]["environments"]
    assert [(e["environment"], e["count"], e["statusCounts"]) for e in opened] == \
        [("Development", 1, {"open": 1}), ("Production", 1, {"open": 1})]
    kept = d.get("/api/v1/stats").json()["alerts"]["facets"]
    assert kept == {"environment": {"entries": 2, "missed": 0},
                    "service": {"entries": 3, "missed": 0},
                    "group": {"entries": 3, "missed": 0},
                    "tag": {"entries": 5, "missed": 0},
                    "event": {"entries": 2, "missed": 0},
                    "eventEnvironment": {"entries": 2, "missed": 0},
                    "eventService": {"entries": 3, "missed": 0}}
    old_base = f"127.0.0.1:{d.port}/"
    d.kill9()
    d.restart()
    again = json.dumps(facets_both_ways(d, []), sort_keys=True)
    assert again == json.dumps(got, sort_keys=True).replace(old_base, f"127.0.0.1:{d.port}/")
    assert d.get("/api/v1/stats").json()["alerts"]["facets"] == kept


# ---- native API -----------------------------------------------------------------------------

def test_native_batch(daemon):
    batch = [alert(resource=f"h{i}", event="Load", severity="warning") for i in range(50)]
    batch.append(alert(resource="h0", event="Load", severity="warning"))  # a duplicate
    r = daemon.post("/api/v1/alerts", batch)
    expect_status(r, 201)
    j = r.json()
    assert j["count"] == 51 and j["created"] == 50 and j["duplicates"] == 1
    assert len(j["ids"]) == 51 and j["ids"][0] == j["ids"][50]
    r = daemon.get("/api/v1/alerts", params={"event": "Load", "page-size": 100})
    expect_status(r, 200)
    assert r.json()["total"] == 50
    r = daemon.post("/api/v1/alerts", [alert(), {"event": "no resource"}])
    expect_status(r, 400)
    assert r.json()["field"].startswith("[1]")
    r = daemon.get(f"/api/v1/alerts/{j['ids'][0]}")
    expect_status(r, 200)


def test_trigger_alert_is_an_alert(daemon):
    daemon.add_triggers(trigger("tr-1", name="High latency", source="REQUEST",
                                conditions=[threshold("latency", "GT", 100)]))
    daemon.send_events({"type": "REQUEST", "properties": {"latency": 500}})
    daemon.sync()
    found = listing(daemon, event="High latency")["alerts"]
    assert len(found) == 1
    a = found[0]
    assert a["attributes"]["trigger"] == "tr-1" and a["origin"] == "trigger/tr-1"
    action(daemon, a["id"], "ack")
    assert get(daemon, a["id"])["status"] == "ack"
    # a trigger id is text from the API: it reaches the alert's attributes escaped, as JSON
    daemon.add_triggers(trigger('tr-"q"\\', name="Quoted", source="REQUEST",
                                conditions=[threshold("latency", "GT", 100)]))
    daemon.send_events({"type": "REQUEST", "properties": {"latency": 600}})
    daemon.sync()
    quoted = listing(daemon, event="Quoted")["alerts"]
    assert [q["attributes"]["trigger"] for q in quoted] == ['tr-"q"\\']


# ---- durability and concurrency -------------------------------------------------------------

def test_restart_keeps_alerts(daemon):
    a = post(daemon, alert())["alert"]
    action(daemon, a["id"], "ack")
    daemon.kill9()
    daemon.restart()
    got = get(daemon, a["id"])
    assert got["status"] == "ack" and got["duplicateCount"] == 0
    assert get(daemon, a["id"][:8])["id"] == a["id"]  # the short ids are rebuilt at start
    b = post(daemon, alert())["alert"]  # de-duplication goes on after the restart
    assert b["id"] == a["id"] and b["duplicateCount"] == 1 and b["status"] == "ack"
    action(daemon, a["id"], "unack")  # history bookkeeping survived too
    assert get(daemon, a["id"])["status"] == "open"


def test_restart_loads_a_large_store_on_two_threads(daemon):
    """Past 4,096 stored alerts the start-up load splits the rows between two threads (the
    later 60% of the rids read by a helper): every alert comes back once, with its state, and
    de-duplication and correlation go on against alerts of both parts."""
    ids = []
    for b in range(60):  # 100 per POST: the test daemon's batch limit
        batch = [alert(resource=f"h{b * 100 + i}", event="Load", value=str(i))
                 for i in range(100)]
        r = daemon.post("/api/v1/alerts", batch)
        expect_status(r, 201, "POST /api/v1/alerts batch")
        ids += r.json()["ids"]
    assert len(set(ids)) == 6000
    for gone in (ids[10], ids[3000], ids[5999]):  # gaps in the rids, the last one included
        expect_status(daemon.delete(f"/alerta/alert/{gone}"), 200, "DELETE")
    early, late = ids[100], ids[4500]  # read by this thread, by the helper
    action(daemon, early, "ack")
    action(daemon, late, "close")
    old_base = f"127.0.0.1:{daemon.port}/"
    before = {i: json.dumps(get(daemon, i)) for i in (ids[0], early, late, ids[5998])}
    daemon.kill9()
    daemon.restart()
    assert "alerts_loaded alerts=5997 skipped=0" in daemon.log(), daemon.log_tail()
    assert "load_helper_failed" not in daemon.log()
    # at once: lists and counts read the engine's counters, published before the first request
    assert daemon.get("/alerta/alerts/count").json()["total"] == 5997
    closed = listing(daemon, status="closed")
    assert closed["total"] == 1 and [x["id"] for x in closed["alerts"]] == [late]
    for i, a in before.items():  # the same, but for the port in the hrefs
        assert json.dumps(get(daemon, i)) == a.replace(old_base, f"127.0.0.1:{daemon.port}/")
    expect_status(daemon.get(f"/alerta/alert/{ids[3000]}"), 404, "deleted alert stays deleted")
    dup = post(daemon, alert(resource="h4600", event="Load", value="again"))["alert"]
    assert dup["id"] == ids[4600] and dup["duplicateCount"] == 1
    back = post(daemon, alert(resource="h4500", event="Load"))["alert"]  # closed: re-opened
    assert back["id"] == late and back["status"] == "open"
    corr = post(daemon, alert(resource="h100", event="Load", severity="critical"))["alert"]
    assert corr["id"] == early and corr["previousSeverity"] == "major"
    new = post(daemon, alert(resource="h3000", event="Load"), status=201)["alert"]
    assert new["id"] not in ids


def test_concurrent_first_inserts(daemon):
    """Eight clients post the same new alert at once: one alert, duplicateCount 7, no 5xx."""
    barrier = threading.Barrier(8)
    results = []
    lock = threading.Lock()

    def one():
        s = requests.Session()
        barrier.wait()
        r = s.post(daemon.url + "/alerta/alert", json=alert(resource="race"), timeout=20)
        with lock:
            results.append((r.status_code, r.json().get("id")))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _ in results] == [201] * 8, results
    assert len({i for _, i in results}) == 1
    body = listing(daemon, resource="race")
    assert body["total"] == 1
    assert body["alerts"][0]["duplicateCount"] == 7
