"""Alerta's heartbeats and blackouts against the real daemon (/alerta and /api/v1): heartbeats
created and upserted, listed, read, deleted; their status moving ok -> slow -> expired with the
test clock; an expired heartbeat raising its HeartbeatFail alert and its return closing it; an
alert whose event is "Heartbeat" becoming one; the healthcheck; blackouts with their priority
and status, listed, read, updated, deleted; an alert inside one dropped (202) or, with
blackouts.notification_blackout, kept in status blackout and re-opened when the blackout ends;
400s naming the field; and a restart after kill -9 keeping both. Time never passes by sleeping:
the tests move the engine's test clock."""
import time

import pytest
import requests

from fakes import fake_http, fake_http_factory  # noqa: F401
from helpers import expect_status


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def now(d):
    """The daemon's clock (ms): the test clock, which only moves when a test moves it."""
    return d.advance(0)


def alert(resource="web01", event="HttpError", severity="major", **kw):
    a = {"resource": resource, "event": event, "environment": "Production", "severity": severity,
         "service": ["Web"], "text": "HTTP 500", "origin": "test/blackbox"}
    a.update(kw)
    return a


def hb_post(d, body, status=201, path="/alerta/heartbeat"):
    r = d.post(path, body)
    expect_status(r, status, f"POST {path} {body}")
    return r.json()


def hb_get(d, hid, path="/alerta/heartbeat"):
    r = d.get(f"{path}/{hid}")
    expect_status(r, 200, f"GET {path}/{hid}")
    return r.json()["heartbeat"]


def hb_list(d, **params):
    r = d.get("/alerta/heartbeats", params=params)
    expect_status(r, 200, f"GET /alerta/heartbeats {params}")
    return r.json()


def bo_post(d, body, status=201, path="/alerta/blackout"):
    r = d.post(path, body)
    expect_status(r, status, f"POST {path} {body}")
    return r.json()


def bo_get(d, bid, path="/alerta/blackout"):
    r = d.get(f"{path}/{bid}")
    expect_status(r, 200, f"GET {path}/{bid}")
    return r.json()["blackout"]


def alerts(d, **params):
    r = d.get("/alerta/alerts", params=params)
    expect_status(r, 200, f"GET /alerta/alerts {params}")
    return r.json()["alerts"]


def assert_error(r, status, field, alerta=True):
    expect_status(r, status)
    j = r.json()
    if alerta:
        assert j["status"] == "error" and j["code"] == status, j
    else:
        assert j["status"] == status and "error" in j, j
    assert j.get("field") == field, j


# ---- heartbeats -----------------------------------------------------------------------------

def test_heartbeat_create_and_upsert(daemon):
    body = hb_post(daemon, {"origin": "cron/db01", "tags": ["nightly"], "timeout": 600,
                            "attributes": {"environment": "Production"}})
    assert body["status"] == "ok"
    hb = body["heartbeat"]
    assert body["id"] == hb["id"] and len(hb["id"]) == 36
    assert hb["origin"] == "cron/db01" and hb["tags"] == ["nightly"] and hb["timeout"] == 600
    assert hb["type"] == "Heartbeat" and hb["status"] == "ok" and hb["customer"] is None
    assert hb["maxLatency"] == 2000 and hb["latency"] == 0 and hb["since"] == 0
    assert hb["attributes"] == {"environment": "Production"}
    assert hb["href"].endswith(f"/alerta/heartbeat/{hb['id']}")
    # the same origin (and customer) again: the same heartbeat, updated
    again = hb_post(daemon, {"origin": "cron/db01", "tags": ["weekly"], "timeout": 900})
    assert again["id"] == hb["id"]
    assert again["heartbeat"]["tags"] == ["weekly"] and again["heartbeat"]["timeout"] == 900
    other = hb_post(daemon, {"origin": "cron/db02"})
    assert other["id"] != hb["id"] and other["heartbeat"]["timeout"] == 86400  # the default
    assert hb_list(daemon)["total"] == 2


def test_heartbeat_list_get_delete(daemon):
    ids = [hb_post(daemon, {"origin": f"svc{i}", "timeout": 60})["id"] for i in range(3)]
    body = hb_list(daemon)
    assert body["total"] == 3 and body["page"] == 1 and body["pageSize"] == 50
    assert body["pages"] == 1 and body["more"] is False
    assert [h["origin"] for h in body["heartbeats"]] == ["svc0", "svc1", "svc2"]
    assert [h["origin"] for h in hb_list(daemon, **{"sort-by": "-origin"})["heartbeats"]] == \
        ["svc2", "svc1", "svc0"]
    page = hb_list(daemon, page=2, **{"page-size": 2})
    assert [h["origin"] for h in page["heartbeats"]] == ["svc2"]
    assert page["pages"] == 2 and page["more"] is False
    assert hb_list(daemon, page=1, **{"page-size": 2})["more"] is True
    expect_status(daemon.get("/alerta/heartbeats", params={"page": 9}), 416)
    assert hb_get(daemon, ids[1])["origin"] == "svc1"
    assert hb_get(daemon, ids[1][:8])["id"] == ids[1]  # an id prefix, as Alerta's LIKE 'x%'
    r = daemon.delete(f"/alerta/heartbeat/{ids[1]}")
    expect_status(r, 200)
    assert r.json() == {"status": "ok"}
    assert_error(daemon.get(f"/alerta/heartbeat/{ids[1]}"), 404, "id")
    assert_error(daemon.delete(f"/alerta/heartbeat/{ids[1]}"), 404, "id")
    assert hb_list(daemon)["total"] == 2
    for i in (ids[0], ids[2]):
        expect_status(daemon.delete(f"/alerta/heartbeat/{i}"), 200)
    empty = hb_list(daemon)
    assert empty["total"] == 0 and empty["heartbeats"] == [] and empty["message"] == "not found"


def test_heartbeat_status_ok_slow_expired(daemon):
    t = now(daemon)
    ok = hb_post(daemon, {"origin": "fast", "timeout": 60})["heartbeat"]
    slow = hb_post(daemon, {"origin": "slow", "timeout": 120,
                            "createTime": iso(t - 5000)})["heartbeat"]
    assert ok["status"] == "ok"
    assert slow["status"] == "slow" and slow["latency"] == 5000
    assert [h["origin"] for h in hb_list(daemon, status="slow")["heartbeats"]] == ["slow"]
    daemon.advance(60_000)  # exactly the timeout: not expired yet (now - receive > timeout)
    assert hb_get(daemon, ok["id"])["status"] == "ok"
    daemon.advance(1)
    got = hb_get(daemon, ok["id"])
    assert got["status"] == "expired" and got["since"] == 60
    assert hb_get(daemon, slow["id"])["status"] == "slow"
    assert [h["origin"] for h in hb_list(daemon, status="expired")["heartbeats"]] == ["fast"]
    both = hb_list(daemon, status=["expired", "slow"], **{"sort-by": "origin"})
    assert [h["origin"] for h in both["heartbeats"]] == ["fast", "slow"]
    hb_post(daemon, {"origin": "fast", "timeout": 60})  # it came back
    assert hb_get(daemon, ok["id"])["status"] == "ok"


def test_expired_heartbeat_raises_and_return_closes(daemon):
    hb = hb_post(daemon, {"origin": "cron/backup", "timeout": 60,
                          "attributes": {"environment": "Production", "service": ["Backup"]}})
    assert alerts(daemon, event="HeartbeatFail") == []
    daemon.advance(60_001)
    raised = alerts(daemon, event="HeartbeatFail")
    assert len(raised) == 1
    a = raised[0]
    assert a["resource"] == "cron/backup" and a["environment"] == "Production"
    assert a["severity"] == "major" and a["status"] == "open" and a["service"] == ["Backup"]
    assert a["type"] == "heartbeatAlert" and a["text"] == "Heartbeat not received in 60 seconds"
    assert a["correlate"][:3] == ["HeartbeatFail", "HeartbeatSlow", "HeartbeatOK"]
    daemon.advance(600_000)  # still missing: raised once, not again
    assert len(alerts(daemon, resource="cron/backup")) == 1
    assert alerts(daemon, resource="cron/backup")[0]["duplicateCount"] == 0
    hb_post(daemon, {"origin": "cron/backup", "timeout": 60,
                     "attributes": {"environment": "Production", "service": ["Backup"]}})
    back = alerts(daemon, resource="cron/backup")
    assert len(back) == 1 and back[0]["id"] == a["id"]
    assert back[0]["status"] == "closed" and back[0]["severity"] == "normal"
    assert back[0]["event"] == "HeartbeatOK"
    daemon.advance(60_001)  # and it can fail again
    again = alerts(daemon, resource="cron/backup")
    assert again[0]["status"] == "open" and again[0]["event"] == "HeartbeatFail"
    r = daemon.delete(f"/alerta/heartbeat/{hb['id']}")  # deleting it closes what it raised
    expect_status(r, 200)
    assert alerts(daemon, resource="cron/backup")[0]["status"] == "closed"


def test_heartbeat_alert_becomes_a_heartbeat(daemon):
    r = daemon.post("/alerta/alert", alert(resource="host1", event="Heartbeat",
                                           origin="agent/host1", severity="informational",
                                           tags=["t1"], timeout=300))
    expect_status(r, 202)
    j = r.json()
    assert j["status"] == "ok" and len(j["id"]) == 36 and len(j["message"]) == 36
    hb = hb_get(daemon, j["message"])
    assert hb["origin"] == "agent/host1" and hb["tags"] == ["t1"] and hb["timeout"] == 300
    assert hb["attributes"] == {"environment": "Production", "severity": "informational",
                                "service": ["Web"], "group": "Misc"}
    assert alerts(daemon, event="Heartbeat") == []  # no alert was stored
    r = daemon.post("/api/v1/alerts", [alert(resource="host2", event="Heartbeat",
                                             origin="agent/host2"), alert(resource="web9")])
    expect_status(r, 201)
    j = r.json()
    assert j["heartbeats"] == 1 and j["created"] == 1 and j["suppressed"] == 0
    assert len(j["ids"]) == 1
    assert hb_list(daemon)["total"] == 2


def test_healthcheck(daemon):
    r = daemon.get("/alerta/management/healthcheck")
    expect_status(r, 200)
    assert r.text == "OK" and r.headers["Content-Type"].startswith("text/plain")
    hb_post(daemon, {"origin": "stale-one", "timeout": 10})
    daemon.advance(40_999)  # stale past 4 x its timeout, in whole seconds
    expect_status(daemon.get("/alerta/management/healthcheck"), 200)
    daemon.advance(1_000)
    r = daemon.get("/alerta/management/healthcheck")
    expect_status(r, 503)
    assert r.text == "HEARTBEAT_STALE: stale-one"
    assert r.headers["Content-Type"].startswith("text/plain")


def test_heartbeat_bad_input(daemon):
    for body, field in [({"timeout": "x"}, "timeout"), ({"timeout": -1}, "timeout"),
                        ({"tags": "x"}, "tags"), ({"attributes": []}, "attributes"),
                        ({"createTime": "yesterday"}, "createTime"), ({"customer": ""}, "customer"),
                        ([], "body")]:
        assert_error(daemon.post("/alerta/heartbeat", body), 400, field)
    assert_error(daemon.post("/alerta/heartbeat", b"{nope"), 400, "body")
    assert_error(daemon.get("/alerta/heartbeats", params={"sort-by": "nope"}), 400, "sort-by")
    assert_error(daemon.get("/alerta/heartbeats", params={"page": "x"}), 400, "page")
    expect_status(daemon.put("/alerta/heartbeat/abc", {}), 405)
    assert_error(daemon.post("/api/v1/heartbeats", {"tags": 1}), 400, "tags", alerta=False)


# ---- blackouts ------------------------------------------------------------------------------

def test_blackout_create_priority_status(daemon):
    t = now(daemon)
    body = bo_post(daemon, {"environment": "Production", "service": ["Web"], "text": "deploy"})
    b = body["blackout"]
    assert body["status"] == "ok" and body["id"] == b["id"]
    assert b["environment"] == "Production" and b["service"] == ["Web"] and b["priority"] == 3
    assert b["status"] == "active" and b["duration"] == 3600 and b["remaining"] == 3600
    assert b["text"] == "deploy" and b["href"].endswith(f"/alerta/blackout/{b['id']}")
    assert b["startTime"] == iso(t)
    assert bo_post(daemon, {"environment": "P", "resource": "r1"})["blackout"]["priority"] == 2
    assert bo_post(daemon, {"environment": "P", "event": "e1"})["blackout"]["priority"] == 4
    assert bo_post(daemon, {"environment": "P", "origin": "o"})["blackout"]["priority"] == 8
    later = bo_post(daemon, {"environment": "Staging", "startTime": iso(t + 600_000),
                             "duration": 60})["blackout"]
    assert later["status"] == "pending" and later["endTime"] == iso(t + 660_000)
    daemon.advance(600_000)
    assert bo_get(daemon, later["id"])["status"] == "active"
    daemon.advance(60_000)
    assert bo_get(daemon, later["id"])["status"] == "expired"
    assert bo_get(daemon, later["id"])["remaining"] == 0
    r = daemon.get("/alerta/blackouts", params={"status": "expired"})
    expect_status(r, 200)
    assert [x["id"] for x in r.json()["blackouts"]] == [later["id"]]


def test_blackout_list_get_update_delete(daemon):
    a = bo_post(daemon, {"environment": "Production", "resource": "db01"})["id"]
    b = bo_post(daemon, {"environment": "Development"})["id"]
    r = daemon.get("/alerta/blackouts")
    expect_status(r, 200)
    j = r.json()
    assert j["status"] == "ok" and j["total"] == 2 and [x["id"] for x in j["blackouts"]] == [a, b]
    r = daemon.get("/alerta/blackouts", params={"sort-by": "environment"})
    assert [x["environment"] for x in r.json()["blackouts"]] == ["Development", "Production"]
    r = daemon.put(f"/alerta/blackout/{a}", {"text": "disk swap", "duration": 7200})
    expect_status(r, 200)
    assert r.json() == {"status": "ok"}
    got = bo_get(daemon, a)
    assert got["text"] == "disk swap" and got["duration"] == 7200 and got["resource"] == "db01"
    assert_error(daemon.put(f"/alerta/blackout/{a}", {}), 400, "body")
    assert_error(daemon.put(f"/alerta/blackout/{a}", {"environment": ""}), 400, "environment")
    assert_error(daemon.put("/alerta/blackout/nope", {"text": "x"}), 404, "id")
    r = daemon.delete(f"/alerta/blackout/{a}")
    expect_status(r, 200)
    assert_error(daemon.get(f"/alerta/blackout/{a}"), 404, "id")
    assert_error(daemon.delete(f"/alerta/blackout/{a}"), 404, "id")
    expect_status(daemon.delete(f"/alerta/blackout/{b}"), 200)
    r = daemon.get("/alerta/blackouts")
    assert r.json()["total"] == 0 and r.json()["message"] == "not found"


def test_blackout_bad_input(daemon):
    t = now(daemon)
    for body, field in [({}, "environment"), ({"environment": ""}, "environment"),
                        ({"environment": "P", "service": "Web"}, "service"),
                        ({"environment": "P", "tags": [1]}, "tags[0]"),
                        ({"environment": "P", "startTime": "soon"}, "startTime"),
                        ({"environment": "P", "startTime": iso(t), "endTime": iso(t - 1000)},
                         "endTime"),
                        ({"environment": "P", "duration": -5}, "duration"),
                        ({"environment": 7}, "environment")]:
        assert_error(daemon.post("/alerta/blackout", body), 400, field)
    assert_error(daemon.get("/alerta/blackouts", params={"sort-by": "bogus"}), 400, "sort-by")
    assert_error(daemon.post("/api/v1/blackouts", {"resource": "x"}), 400, "environment",
                 alerta=False)


def test_alert_in_blackout_is_dropped(daemon):
    bo_post(daemon, {"environment": "Production", "service": ["Web"], "duration": 600})
    r = daemon.post("/alerta/alert", alert(resource="web01"))
    expect_status(r, 202)
    j = r.json()
    assert j == {"status": "ok", "message": "Suppressed alert during blackout period",
                 "id": j["id"]} and len(j["id"]) == 36
    assert alerts(daemon, resource="web01") == []
    # not covered: another environment, another service
    expect_status(daemon.post("/alerta/alert", alert(resource="web02", environment="Dev")), 201)
    expect_status(daemon.post("/alerta/alert", alert(resource="web03", service=["Db"])), 201)
    r = daemon.post("/api/v1/alerts", [alert(resource="web04"), alert(resource="web05",
                                                                       service=["Db"])])
    expect_status(r, 201)
    assert r.json()["suppressed"] == 1 and r.json()["created"] == 1
    daemon.advance(600_000)  # over: alerts go through again
    expect_status(daemon.post("/alerta/alert", alert(resource="web01")), 201)


def test_blackout_accept_lets_severities_through(daemon_factory):
    d = daemon_factory(config={"blackouts": {"accept": "critical,security"}})
    bo_post(d, {"environment": "Production"})
    expect_status(d.post("/alerta/alert", alert(severity="major")), 202)
    r = d.post("/alerta/alert", alert(severity="critical"))
    expect_status(r, 201)
    assert r.json()["alert"]["status"] == "open"


def test_notification_blackout_keeps_and_reopens(daemon_factory):
    d = daemon_factory(config={"blackouts": {"notification_blackout": "true"}})
    before = d.post("/alerta/alert", alert(resource="db01", event="Disk")).json()["alert"]
    bid = bo_post(d, {"environment": "Production", "duration": 300})["id"]
    r = d.post("/alerta/alert", alert(resource="web01"))
    expect_status(r, 201)
    a = r.json()["alert"]
    assert a["status"] == "blackout"
    dup = d.post("/alerta/alert", alert(resource="db01", event="Disk")).json()["alert"]
    assert dup["id"] == before["id"] and dup["status"] == "blackout"
    ok = d.post("/alerta/alert", alert(resource="web07", severity="normal")).json()["alert"]
    assert ok["status"] == "closed"  # a normal severity still closes
    assert {x["resource"] for x in alerts(d, status="blackout")} == {"web01", "db01"}
    d.advance(299_999)
    assert alerts(d, resource="web01")[0]["status"] == "blackout"
    d.advance(1)  # the blackout ends: back to the status before it
    got = alerts(d, resource="web01", **{"show-history": "true"})[0]
    assert got["status"] == "open"
    assert got["history"][0]["text"] == "blackout ended"
    assert got["history"][0]["status"] == "open"
    assert alerts(d, resource="db01")[0]["status"] == "open"
    assert bo_get(d, bid)["status"] == "expired"


def test_deleting_a_blackout_releases_its_alerts(daemon_factory):
    d = daemon_factory(config={"blackouts": {"notification_blackout": "true"}})
    outer = bo_post(d, {"environment": "Production", "duration": 3600})["id"]
    inner = bo_post(d, {"environment": "Production", "resource": "web01", "duration": 60})["id"]
    assert d.post("/alerta/alert", alert()).json()["alert"]["status"] == "blackout"
    d.advance(60_000)  # the inner one ends; the outer one still covers it
    assert alerts(d, resource="web01")[0]["status"] == "blackout"
    expect_status(d.delete(f"/alerta/blackout/{outer}"), 200)
    assert alerts(d, resource="web01")[0]["status"] == "open"
    assert bo_get(d, inner)["status"] == "expired"


# ---- native API, restart --------------------------------------------------------------------

def test_native_paths(daemon):
    j = hb_post(daemon, {"origin": "n1"}, path="/api/v1/heartbeats")
    hid = j["id"]
    assert j["heartbeat"]["href"].endswith(f"/api/v1/heartbeats/{hid}")
    assert hb_get(daemon, hid, path="/api/v1/heartbeats")["origin"] == "n1"
    r = daemon.get("/api/v1/heartbeats")
    expect_status(r, 200)
    assert r.json()["total"] == 1
    expect_status(daemon.delete(f"/api/v1/heartbeats/{hid}"), 200)
    assert_error(daemon.get(f"/api/v1/heartbeats/{hid}"), 404, "id", alerta=False)
    j = bo_post(daemon, {"environment": "Production"}, path="/api/v1/blackouts")
    bid = j["id"]
    assert j["blackout"]["href"].endswith(f"/api/v1/blackouts/{bid}")
    expect_status(daemon.put(f"/api/v1/blackouts/{bid}", {"text": "t"}), 200)
    assert bo_get(daemon, bid, path="/api/v1/blackouts")["text"] == "t"
    r = daemon.get("/api/v1/blackouts")
    assert r.json()["total"] == 1
    expect_status(daemon.delete(f"/api/v1/blackouts/{bid}"), 200)
    expect_status(daemon.request("PATCH", "/api/v1/blackouts"), 405)


def test_restart_keeps_heartbeats_and_blackouts(daemon):
    hb = hb_post(daemon, {"origin": "keeper", "tags": ["x"], "timeout": 60})["heartbeat"]
    bo = bo_post(daemon, {"environment": "Production", "service": ["Web"], "duration": 86400,
                          "text": "long"})["blackout"]
    gone = bo_post(daemon, {"environment": "Dev"})["id"]
    expect_status(daemon.delete(f"/alerta/blackout/{gone}"), 200)
    daemon.kill9()
    daemon.restart()
    got = hb_get(daemon, hb["id"])
    assert got["origin"] == "keeper" and got["tags"] == ["x"] and got["timeout"] == 60
    assert got["receiveTime"] == hb["receiveTime"]
    b = bo_get(daemon, bo["id"])
    assert b["text"] == "long" and b["startTime"] == bo["startTime"] and b["service"] == ["Web"]
    assert_error(daemon.get(f"/alerta/blackout/{gone}"), 404, "id")
    # the blackout still acts, and the heartbeat is upserted, not duplicated
    expect_status(daemon.post("/alerta/alert", alert()), 202)
    assert hb_post(daemon, {"origin": "keeper"})["id"] == hb["id"]
    assert hb_list(daemon)["total"] == 1


@pytest.mark.parametrize("path", ["/alerta/heartbeats", "/alerta/blackouts"])
def test_lists_empty(daemon, path):
    r = daemon.get(path)
    expect_status(r, 200)
    assert r.json()["total"] == 0


# ---- scopes and customers -------------------------------------------------------------------

def make_key(d, **body):
    r = d.post("/alerta/key", body)
    expect_status(r, 201, f"POST /alerta/key {body}")
    return r.json()["key"]


def with_key(d, key, method, path, **kw):
    return requests.request(method, d.url + path, headers={"Authorization": f"Key {key}"},
                            timeout=10, **kw)


def test_scopes(daemon_factory):
    d = daemon_factory(auth=True, admin=True)
    reader = make_key(d, scopes=["read:heartbeats", "read:blackouts"])
    writer = make_key(d, scopes=["write:heartbeats"])
    expect_status(with_key(d, reader, "GET", "/alerta/heartbeats"), 200)
    expect_status(with_key(d, reader, "GET", "/api/v1/blackouts"), 200)
    r = with_key(d, reader, "POST", "/alerta/heartbeat", json={"origin": "x"})
    expect_status(r, 403)
    assert r.json()["message"] == "Missing required scope: write:heartbeats"
    r = with_key(d, reader, "POST", "/api/v1/blackouts", json={"environment": "P"})
    expect_status(r, 403)
    assert r.json()["error"] == "Missing required scope: write:blackouts"
    hid = with_key(d, writer, "POST", "/alerta/heartbeat", json={"origin": "x"}).json()["id"]
    expect_status(with_key(d, writer, "GET", f"/alerta/heartbeat/{hid}"), 200)  # write > read
    expect_status(with_key(d, writer, "GET", "/alerta/blackouts"), 403)
    expect_status(with_key(d, reader, "DELETE", f"/alerta/heartbeat/{hid}"), 403)
    expect_status(with_key(d, writer, "DELETE", f"/alerta/heartbeat/{hid}"), 200)
    # the healthcheck needs no scope, only credentials
    expect_status(with_key(d, reader, "GET", "/alerta/management/healthcheck"), 200)


def test_customers(daemon_factory):
    d = daemon_factory(auth=True, admin=True, config={"auth": {"customer_views": "true"}})
    acme = make_key(d, scopes=["read", "write"], customer="acme")
    other = make_key(d, scopes=["read", "write"], customer="other")
    r = with_key(d, acme, "POST", "/alerta/heartbeat", json={"origin": "job"})
    expect_status(r, 201)
    hb = r.json()["heartbeat"]
    assert hb["customer"] == "acme"
    r = with_key(d, acme, "POST", "/alerta/heartbeat", json={"origin": "job", "customer": "other"})
    expect_status(r, 400)
    assert r.json()["field"] == "customer"
    # the same origin for another customer is another heartbeat
    assert with_key(d, other, "POST", "/alerta/heartbeat",
                    json={"origin": "job"}).json()["id"] != hb["id"]
    assert [h["customer"] for h in with_key(d, acme, "GET", "/alerta/heartbeats")
            .json()["heartbeats"]] == ["acme"]
    expect_status(with_key(d, other, "GET", f"/alerta/heartbeat/{hb['id']}"), 404)
    expect_status(with_key(d, other, "DELETE", f"/alerta/heartbeat/{hb['id']}"), 404)
    assert d.get("/alerta/heartbeats").json()["total"] == 2  # the administrator sees both
    r = with_key(d, acme, "POST", "/alerta/blackout", json={"environment": "Production"})
    expect_status(r, 201)
    b = r.json()["blackout"]
    assert b["customer"] == "acme" and b["user"] == "admin"
    expect_status(with_key(d, other, "GET", f"/alerta/blackout/{b['id']}"), 404)
    expect_status(with_key(d, other, "PUT", f"/alerta/blackout/{b['id']}",
                           json={"text": "x"}), 404)
    assert with_key(d, other, "GET", "/alerta/blackouts").json()["total"] == 0
    # with customer views, acme's blackout holds acme's alerts only
    expect_status(with_key(d, acme, "POST", "/alerta/alert", json=alert()), 202)
    expect_status(with_key(d, other, "POST", "/alerta/alert", json=alert()), 201)


def test_restart_releases_alerts_no_blackout_holds(daemon):
    """At start-up, alerts in status blackout that no blackout covers any more (it ended while
    tocsin was down) go back to their status."""
    a = daemon.post("/alerta/alert", alert()).json()["alert"]
    r = daemon.put(f"/alerta/alert/{a['id']}/status", {"status": "blackout", "text": "by hand"})
    expect_status(r, 200)
    assert alerts(daemon, resource="web01")[0]["status"] == "blackout"
    daemon.kill9()
    daemon.restart()
    got = alerts(daemon, resource="web01", **{"show-history": "true"})[0]
    assert got["status"] == "open" and got["history"][0]["text"] == "blackout ended"


def test_alerts_released_at_start_up_are_notified(daemon, fake_http):
    """A blackout that ended while tocsin was down releases its alerts at start-up, and the
    rules hear of it as of an end at run time: an "unblackout" notification."""
    expect_status(daemon.post("/api/v1/channels", {
        "id": "hook", "type": "webhook", "config": {"url": fake_http.url + "/hook"}}), 201)
    expect_status(daemon.post("/api/v1/rules", {
        "id": "back", "on": ["unblackout"], "channels": ["hook"]}), 201)
    a = daemon.post("/alerta/alert", alert()).json()["alert"]
    expect_status(daemon.put(f"/alerta/alert/{a['id']}/status",
                             {"status": "blackout", "text": "by hand"}), 200)
    daemon.kill9()
    daemon.restart()
    req = fake_http.wait_for(1)[0]
    assert req.json["change"] == "unblackout" and req.json["alert"]["id"] == a["id"], req.json
    assert req.json["alert"]["status"] == "open"


def test_trigger_alerts_respect_blackouts(daemon, receiver):
    """A trigger's alert is an alert like any other: inside a blackout (default policy) it is
    neither stored nor notified; once the blackout is over it fires and notifies."""
    from helpers import threshold, trigger, webhook
    # a trigger's alert has environment alerts.trigger_environment (Production), resource the
    # trigger's source when it has no projection
    bo_post(daemon, {"environment": "Production", "resource": "BO", "duration": 600})
    daemon.add_triggers(trigger("bo-t", name="Slow", source="BO",
                                conditions=[threshold("rt", "GT", 100)],
                                notifications=[webhook(receiver.url)]))
    daemon.send_events({"type": "BO", "properties": {"rt": 500}})
    daemon.sync()
    assert alerts(daemon, event="Slow") == []
    assert daemon.notifications(trigger="bo-t")["total"] == 0
    daemon.advance(600_000)
    daemon.send_events({"type": "BO", "properties": {"rt": 700}})
    daemon.sync()
    receiver.wait_for(1)
    assert len(alerts(daemon, event="Slow")) == 1
