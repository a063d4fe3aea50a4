"""API keys, scopes and customers, as Alerta does them: keys by `Authorization: Key`, `X-API-Key`
and `?api-key=`, shown once, stored hashed, kept across a restart; scopes enforced with Alerta's
403; customers isolating alerts."""
import requests

from conftest import ADMIN
from helpers import expect_status


def alert(resource="web01", **kw):
    a = {"resource": resource, "event": "HttpError", "environment": "Production",
         "severity": "major"}
    a.update(kw)
    return a


def make_key(d, **body):
    r = d.post("/alerta/key", body)
    expect_status(r, 201, f"POST /alerta/key {body}")
    j = r.json()
    assert j["status"] == "ok" and len(j["key"]) == 40, j
    assert "key" not in j["data"] or j["data"]["key"] != j["key"]
    return j["key"], j["data"]


def with_key(d, key, method, path, how="header", **kw):
    """A request made with only the key (no Basic credentials)."""
    s = requests.Session()
    headers = kw.pop("headers", {})
    params = kw.pop("params", {})
    if how == "header":
        headers["Authorization"] = f"Key {key}"
    elif how == "x-api-key":
        headers["X-API-Key"] = key
    else:
        params["api-key"] = key
    return s.request(method, d.url + path, headers=headers, params=params, timeout=10, **kw)


def test_key_lifecycle(daemon_factory):
    d = daemon_factory(auth=True, admin=True)
    key, data = make_key(d, scopes=["read:alerts"], text="dashboards")
    assert data["scopes"] == ["read:alerts"] and data["type"] == "read-only"
    assert data["user"] == ADMIN[0] and data["status"] == "active"
    assert data["href"] == f"{d.url}/alerta/key/{data['id']}"
    for how in ("header", "x-api-key", "query"):
        r = with_key(d, key, "GET", "/alerta/alerts", how=how)
        expect_status(r, 200, f"GET with key by {how}")
    r = with_key(d, key, "POST", "/alerta/alert", json=alert())
    expect_status(r, 403)
    assert r.json() == {"status": "error", "message": "Missing required scope: write:alerts",
                        "code": 403, "errors": None}
    r = with_key(d, "x" * 40, "GET", "/alerta/alerts")
    expect_status(r, 401)
    # listed without the key itself; found by id and by the key
    r = d.get("/alerta/keys")
    expect_status(r, 200)
    keys = r.json()["keys"]
    assert len(keys) == 1 and key not in r.text
    assert keys[0]["count"] >= 3
    expect_status(d.get(f"/alerta/key/{data['id']}"), 200)
    expect_status(d.get(f"/alerta/key/{key}"), 200)
    # PUT changes the record, in memory and (below) across the restart
    expect_status(d.put(f"/alerta/key/{data['id']}", {"text": "wallboard"}), 200)
    assert d.get(f"/alerta/key/{data['id']}").json()["key"]["text"] == "wallboard"
    # survives a restart (stored hashed), and a delete ends it
    d.kill9()
    d.restart()
    expect_status(with_key(d, key, "GET", "/alerta/alerts"), 200)
    assert d.get(f"/alerta/key/{key}").json()["key"]["text"] == "wallboard"
    with open(d.dir + "/tocsin.db", "rb") as f:
        assert key.encode() not in f.read()
    expect_status(d.delete(f"/alerta/key/{data['id']}"), 200)
    expect_status(with_key(d, key, "GET", "/alerta/alerts"), 401)


def test_scopes_cannot_grow(daemon_factory):
    d = daemon_factory(auth=True)  # a plain user: read, write
    key, data = make_key(d, type="read-write")
    assert sorted(data["scopes"]) == ["read", "write"]
    r = d.post("/alerta/key", {"scopes": ["admin"]})
    expect_status(r, 403)
    r = d.post("/alerta/key", {"scopes": ["bogus:thing"]})
    expect_status(r, 400)
    # a write key may post alerts but not run housekeeping (admin:management)
    expect_status(with_key(d, key, "POST", "/alerta/alert", json=alert()), 201)
    expect_status(with_key(d, key, "POST", "/alerta/management/housekeeping"), 403)
    # a key that may make keys but not write gets no read-write key by default either
    narrow, _ = make_key(d, scopes=["read", "write:keys"])
    r = with_key(d, narrow, "POST", "/alerta/key", json={})
    expect_status(r, 403)
    assert r.json()["message"] == "Requested scope 'write' not in existing scopes"
    r = with_key(d, narrow, "POST", "/alerta/key", json={"type": "read-only"})
    expect_status(r, 201)
    assert r.json()["data"]["scopes"] == ["read"]


def test_native_keys_and_scoped_triggers(daemon_factory):
    d = daemon_factory(auth=True, admin=True)
    r = d.post("/api/v1/keys", {"scopes": ["read:triggers", "write:events"]})
    expect_status(r, 201)
    key = r.json()["key"]
    expect_status(with_key(d, key, "GET", "/api/v1/triggers"), 200)
    r = with_key(d, key, "POST", "/api/v1/triggers", json={"id": "t", "source": "S",
                                                           "conditions": []})
    expect_status(r, 403)
    r = with_key(d, key, "POST", "/http/events", json={"type": "S", "properties": {}})
    expect_status(r, 202)


def test_customers_isolate_alerts(daemon_factory):
    d = daemon_factory(auth=True, admin=True, config={"auth": {"customer_views": "true"}})
    acme, _ = make_key(d, scopes=["read", "write"], customer="acme")
    other, _ = make_key(d, scopes=["read", "write"], customer="other")
    r = with_key(d, acme, "POST", "/alerta/alert", json=alert("a1"))
    expect_status(r, 201)
    a1 = r.json()["alert"]
    assert a1["customer"] == "acme"
    r = with_key(d, other, "POST", "/alerta/alert", json=alert("o1"))
    expect_status(r, 201)
    assert r.json()["alert"]["customer"] == "other"
    # a customer key may not set another customer
    r = with_key(d, acme, "POST", "/alerta/alert", json=alert("x", customer="other"))
    expect_status(r, 400)
    seen = with_key(d, acme, "GET", "/alerta/alerts").json()
    assert [a["resource"] for a in seen["alerts"]] == ["a1"]
    expect_status(with_key(d, other, "GET", f"/alerta/alert/{a1['id']}"), 404)
    r = with_key(d, other, "PUT", f"/alerta/alert/{a1['id']}/action", json={"action": "ack"})
    expect_status(r, 404)
    expect_status(with_key(d, acme, "PUT", f"/alerta/alert/{a1['id']}/action",
                           json={"action": "ack"}), 200)
    # the administrator sees every customer
    assert d.get("/alerta/alerts").json()["total"] == 2


def test_probes_need_no_credentials(daemon_factory):
    d = daemon_factory(auth=True)
    for path in ("/health", "/alerta/management/gtg", "/alerta/management/healthcheck"):
        r = requests.get(d.url + path, timeout=10)
        expect_status(r, 200, path)
    expect_status(requests.get(d.url + "/alerta/alerts", timeout=10), 401)
