"""Notifications end to end: channels and rules through the API and from files, every attempt
visible, retries, Retry-After, dead letters and their retry, channel tests, tickets, order per
alert, a receiver down then back, kill -9 in a retry storm. Receivers are local fakes
(fakes.py) on 127.0.0.1."""

import json
import os
import signal
import time

import pytest

from fakes import Response, fake_http, fake_http_factory, fake_smtp, fake_smtp_factory  # noqa: F401
from helpers import expect_status, wait_for

FAST = {"notify": {"backoff_base": "20ms", "backoff_max": "100ms", "max_attempts": "5",
                   "timeout": "2s"}}


def alert(resource="web01", event="HttpDown", severity="critical", **kw):
    a = {"resource": resource, "event": event, "environment": "Production",
         "severity": severity, "service": ["web"], "text": "it is down", "origin": "tests"}
    a.update(kw)
    return a


def post_alert(d, a):
    r = d.post("/alerta/alert", a)
    expect_status(r, 201, "POST /alerta/alert")
    return r.json()["id"]


def channel(d, body, status=201):
    r = d.post("/api/v1/channels", body)
    expect_status(r, status, f"POST /api/v1/channels {body.get('id')}")
    return r.json()


def rule(d, body, status=201):
    r = d.post("/api/v1/rules", body)
    expect_status(r, status, f"POST /api/v1/rules {body.get('id')}")
    return r.json()


def webhook(fake, cid="hook", path="/hook", **cfg):
    c = {"url": fake.url + path}
    c.update(cfg)
    return {"id": cid, "type": "webhook", "config": c}


def notes_of(d, alert_id):
    return d.notifications(alert=alert_id)["notifications"]


def wait_status(d, alert_id, status, n=1, timeout=15.0):
    return wait_for(lambda: (lambda ns: ns if len([x for x in ns if x["status"] == status]) >= n
                             else None)(notes_of(d, alert_id)),
                    timeout=timeout, what=f"{n} {status} notification(s) of {alert_id}")


@pytest.fixture
def nd(daemon_factory):
    return daemon_factory(config=FAST)


# ---- channels and rules through the API ---------------------------------------------------------

def test_channel_crud_and_validation(nd, fake_http):
    body = webhook(fake_http, auth={"username": "u", "password": "p4ss"})
    got = channel(nd, body)
    assert got["id"] == "hook" and got["type"] == "webhook" and got["source"] == "api"
    assert got["config"]["auth"]["password"] == "********", got
    assert "p4ss" not in nd.get("/api/v1/channels").text
    assert nd.get("/api/v1/channels/hook").json()["config"]["url"] == fake_http.url + "/hook"
    channel(nd, body, status=409)  # the same id again
    r = nd.post("/api/v1/channels", {"id": "bad", "type": "webhook", "config": {"url": "ftp://x"}})
    expect_status(r, 400, "a non-http URL")
    assert r.json()["field"].startswith("config.url"), r.text
    r = nd.post("/api/v1/channels", {"id": "bad", "type": "carrier-pigeon", "config": {}})
    expect_status(r, 400, "an unknown type")
    assert r.json()["field"] == "type", r.text
    r = nd.post("/api/v1/channels", "{not json")
    expect_status(r, 400, "broken JSON")
    # a GET, edit, PUT round trip keeps the secret it did not see
    doc = nd.get("/api/v1/channels/hook").json()
    doc["config"]["headers"] = {"X-Team": "ops", "X-Hub-Signature-256": "sha256=5ec2e7"}
    expect_status(nd.put("/api/v1/channels/hook", doc), 200, "PUT with the masked secret")
    # a signature header is a credential (util/secrets.h's one rule): masked, sealed at rest
    got = nd.get("/api/v1/channels/hook").json()["config"]["headers"]
    assert got == {"X-Team": "ops", "X-Hub-Signature-256": "********"}, got
    for name in ("tocsin.db", "tocsin.db-wal"):
        if os.path.exists(os.path.join(nd.dir, name)):
            with open(os.path.join(nd.dir, name), "rb") as f:
                assert b"sha256=5ec2e7" not in f.read(), name
    expect_status(nd.post("/api/v1/channels/hook/test"), 200, "channel test")
    req = fake_http.wait_for(1)[0]
    assert req.headers["Authorization"].startswith("Basic "), req.headers
    import base64
    assert base64.b64decode(req.headers["Authorization"][6:]) == b"u:p4ss"
    assert req.headers["X-Team"] == "ops"
    assert req.headers["X-Hub-Signature-256"] == "sha256=5ec2e7"
    expect_status(nd.get("/api/v1/channels/nope"), 404, "unknown channel")
    expect_status(nd.delete("/api/v1/channels/hook"), 200, "delete")
    expect_status(nd.get("/api/v1/channels/hook"), 404, "deleted channel")


def test_rule_validation_names_the_field(nd, fake_http):
    channel(nd, webhook(fake_http))
    r = nd.post("/api/v1/rules", {"id": "r", "on": ["create"], "channels": ["nope"]})
    expect_status(r, 400, "unknown channel")
    assert r.json()["field"] == "channels[0]", r.text
    r = nd.post("/api/v1/rules", {"id": "r", "on": ["explode"], "channels": ["hook"]})
    expect_status(r, 400, "unknown change")
    assert r.json()["field"].startswith("on"), r.text
    r = nd.post("/api/v1/rules", {"id": "r", "on": ["create"], "channels": ["hook"],
                                  "match": ["severity=~\"(critical\""]})
    expect_status(r, 400, "bad regex")
    assert r.json()["field"].startswith("match"), r.text
    rule(nd, {"id": "r", "on": ["create"], "channels": ["hook"]})
    assert [x["id"] for x in nd.get("/api/v1/rules").json()["rules"]] == ["r"]
    r = nd.delete("/api/v1/channels/hook")
    expect_status(r, 409, "a channel a rule sends to")
    expect_status(nd.delete("/api/v1/rules/r"), 200, "delete rule")
    expect_status(nd.get("/api/v1/rules/r"), 404, "deleted rule")
    expect_status(nd.delete("/api/v1/channels/hook"), 200, "delete channel")


# ---- delivery -----------------------------------------------------------------------------------

def test_notify_threads_sets_the_notifier_threads_and_each_delivers(daemon_factory, fake_http):
    d = daemon_factory(config={"notify": {"threads": 3}})
    names = sorted(open(f"/proc/{d.proc.pid}/task/{t}/comm").read().strip()
                   for t in os.listdir(f"/proc/{d.proc.pid}/task"))
    assert [n for n in names if n.startswith("tocsin-notify")] == \
        ["tocsin-notify", "tocsin-notify2", "tocsin-notify3"], names
    channel(d, webhook(fake_http))
    rule(d, {"id": "all", "on": ["create"], "channels": ["hook"]})
    ids = [post_alert(d, alert(resource=f"t{i}")) for i in range(12)]  # lanes over the threads
    fake_http.wait_for(12)
    for aid in ids:
        wait_status(d, aid, "delivered")


def test_create_and_resolve_reach_the_webhook_in_order(nd, fake_http):
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "all", "on": ["create", "resolve"], "channels": ["hook"]})
    aid = post_alert(nd, alert())
    post_alert(nd, alert(severity="normal"))  # closes it
    reqs = fake_http.wait_for(2)
    bodies = [r.json for r in reqs]
    assert [b["change"] for b in bodies] == ["create", "resolve"], bodies
    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    assert bodies[0]["alert"]["id"] == aid and bodies[0]["alert"]["resource"] == "web01"
    ids = [r.headers["X-Tocsin-Notification"] for r in reqs]
    assert len(set(ids)) == 2 and all(r.headers.get("Idempotency-Key") for r in reqs)
    ns = wait_status(nd, aid, "delivered", 2)
    for n in ns:
        assert n["rule"] == "all" and n["channelId"] == "hook"
        assert n["deliveryAttempts"] and n["deliveryAttempts"][0]["httpStatus"] == 200, n
        assert isinstance(n["deliveryAttempts"][0]["durationMs"], int)


def test_an_alert_deleted_and_sent_again_with_its_id_is_notified_again(nd, fake_http):
    # Alerta lets the sender choose the id; a new alert under an old id is a new alert, and its
    # notifications are not the first one's (delivered ones stay in the outbox for notify.keep)
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "new", "on": ["create"], "channels": ["hook"]})
    aid = "11111111-2222-4333-8444-555555555555"
    assert post_alert(nd, alert(id=aid)) == aid
    first = fake_http.wait_for(1)[0]
    expect_status(nd.delete(f"/alerta/alert/{aid}"), 200, "DELETE /alerta/alert")
    assert post_alert(nd, alert(id=aid)) == aid
    reqs = fake_http.wait_for(2)
    assert [r.json["change"] for r in reqs] == ["create", "create"]
    assert reqs[1].headers["Idempotency-Key"] != first.headers["Idempotency-Key"]
    ns = wait_status(nd, aid, "delivered", 2)
    assert len(ns) == 2, ns


def test_default_body_is_the_whole_context_with_its_ticket_once_declared(nd, fake_http):
    # Two rules fire on each change (one alert, two notifications), so the second one's
    # context reuses the first one's parsed alert; the webhook declares a ticket from its
    # first answer, so later bodies carry it (alert.ticket, alerts[0].ticket) and are built
    # from the tree, not spliced from the stored text.
    channel(nd, webhook(fake_http, declare_ticket={"ticket_id": "key"}))
    for rid in ("r1", "r2"):
        rule(nd, {"id": rid, "on": ["create", "stateinc", "statedec"], "channels": ["hook"],
                  "continue": True})
    fake_http.answer(Response(201, body='{"key": "T-7"}'), default=Response(200, body="{}"))
    aid = post_alert(nd, alert(text='quote " brace } backslash \\ end'))
    first = fake_http.wait_for(2)
    for r in first:
        b = r.json
        assert r.headers["Content-Type"] == "application/json", r.headers
        assert b["alert"]["id"] == aid and b["alerts"] == [b["alert"]], b
        assert b["alert"]["text"] == 'quote " brace } backslash \\ end', b["alert"]
        assert b["notification"] == {"id": r.headers["X-Tocsin-Notification"], "attempt": 1}, b
        assert b["channel"] == {"id": "hook", "type": "webhook"} and b["change"] == "create", b
    assert sorted(r.json["rule"]["id"] for r in first) == ["r1", "r2"]
    wait_status(nd, aid, "delivered", 2)
    stats = nd.get("/api/v1/stats").json()
    waits = stats["notifications"]["waitUs"]
    assert waits["samples"] >= 2 and 0 <= waits["p50"] <= waits["max"], waits
    rules = stats["rules"]
    assert rules["count"] == 2 and rules["intents"] >= 2 and rules["evaluated"] >= 2, rules
    assert rules["dropped"] == 0 and rules["inhibited"] == 0, rules
    post_alert(nd, alert(severity="major"))
    later = fake_http.wait_for(4)[2:]
    for r in later:
        b = r.json
        assert b["change"] == "statedec" and b["alert"]["severity"] == "major", b
        assert b["alert"]["ticket"] == "T-7" and b["alerts"][0]["ticket"] == "T-7", b
        assert b["alert"]["tickets"]["hook"]["id"] == "T-7", b["alert"]


def test_matcher_selects_alerts(nd, fake_http):
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "crit", "on": ["create"], "channels": ["hook"],
              "match": ["severity=~\"critical|major\"", "environment!=\"Development\""]})
    post_alert(nd, alert(resource="a", severity="minor"))
    post_alert(nd, alert(resource="b", environment="Development"))
    post_alert(nd, alert(resource="c", severity="major"))
    reqs = fake_http.wait_for(1)
    time.sleep(0.3)  # a bounded look for anything unexpected after the expected one
    assert [r.json["alert"]["resource"] for r in fake_http.requests] == ["c"]


def test_retries_until_delivered_with_every_attempt_recorded(nd, fake_http):
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "r", "on": ["create"], "channels": ["hook"]})
    fake_http.fail_next(2, status=500, body="boom")
    aid = post_alert(nd, alert())
    n = wait_status(nd, aid, "delivered")[0]
    assert [a["httpStatus"] for a in n["deliveryAttempts"]] == [500, 500, 200], n
    assert "boom" in (n["deliveryAttempts"][0]["response"] or "")
    assert len({r.headers["X-Tocsin-Notification"] for r in fake_http.requests}) == 1


def test_retry_after_is_honoured(nd, fake_http):
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "r", "on": ["create"], "channels": ["hook"]})
    fake_http.answer_429(retry_after=1)
    aid = post_alert(nd, alert())
    reqs = fake_http.wait_for(2, timeout=10)
    assert reqs[1].time - reqs[0].time >= 0.9, [r.time for r in reqs]
    assert wait_status(nd, aid, "delivered")[0]["deliveryAttempts"][0]["httpStatus"] == 429


def test_dead_letter_then_retry(daemon_factory, fake_http):
    d = daemon_factory(config={"notify": {"backoff_base": "10ms", "backoff_max": "20ms",
                                          "max_attempts": "2"}})
    channel(d, webhook(fake_http))
    rule(d, {"id": "r", "on": ["create"], "channels": ["hook"]})
    fake_http.fail_next(2, status=503)
    aid = post_alert(d, alert())
    n = wait_status(d, aid, "failed")[0]
    assert len(n["deliveryAttempts"]) == 2
    r = d.post(f"/api/v1/notifications/{n['id']}/retry")
    expect_status(r, 200, "retry a failed notification")
    n = wait_status(d, aid, "delivered")[0]
    assert [a["httpStatus"] for a in n["deliveryAttempts"]] == [503, 503, 200]
    expect_status(d.post(f"/api/v1/notifications/{n['id']}/retry"), 409, "retry a delivered one")
    expect_status(d.post("/api/v1/notifications/nope/retry"), 404, "retry an unknown one")
    one = d.get(f"/api/v1/notifications/{n['id']}")
    expect_status(one, 200, "GET one notification")
    assert one.json()["status"] == "delivered"


def test_channel_test_returns_the_answer(nd, fake_http):
    channel(nd, webhook(fake_http))
    fake_http.answer(Response(418, body="short and stout"))
    r = nd.post("/api/v1/channels/hook/test")
    expect_status(r, 200, "channel test")
    got = r.json()
    assert got["delivered"] is False and got["httpStatus"] == 418, got
    assert "short and stout" in got["response"]
    r = nd.post("/api/v1/channels/hook/test")
    assert r.json()["delivered"] is True and r.json()["httpStatus"] == 200
    assert nd.notifications()["total"] == 0  # tests are not stored


def test_servicenow_ticket_is_declared_and_used_on_resolve(nd, fake_http):
    fake_http.answer(Response(201, body=json.dumps(
        {"result": {"sys_id": "6816f79cc0a8016401c5a33be04be441", "number": "INC0010001"}}),
        headers={"Content-Type": "application/json"}), path="/api/now/table/incident")
    channel(nd, {"id": "snow", "type": "servicenow",
                 "config": {"url": fake_http.url, "auth": {"username": "svc", "password": "pw"}}})
    rule(nd, {"id": "r", "on": ["create", "resolve"], "channels": ["snow"]})
    aid = post_alert(nd, alert())
    wait_status(nd, aid, "delivered")
    got = wait_for(lambda: (lambda a: a if a.get("attributes", {}).get("ticket") else None)(
        nd.get(f"/alerta/alert/{aid}").json()["alert"]), what="the ticket on the alert")
    assert got["attributes"]["ticket"] == "INC0010001", got["attributes"]
    post_alert(nd, alert(severity="normal"))
    reqs = fake_http.wait_for(2)
    assert reqs[0].method == "POST" and reqs[0].path == "/api/now/table/incident"
    assert reqs[1].method == "PATCH"
    assert reqs[1].path == "/api/now/table/incident/6816f79cc0a8016401c5a33be04be441", reqs[1].path


def test_email_through_smtp(nd, fake_smtp_factory):
    smtp = fake_smtp_factory(user="mailer", password="pw")
    channel(nd, {"id": "mail", "type": "email",
                 "config": {"url": f"smtp://127.0.0.1:{smtp.port}", "tls": "none",
                            "username": "mailer", "password": "pw",
                            "from": "tocsin@example.com", "to": ["ops@example.com", "oncall@example.com"]}})
    rule(nd, {"id": "r", "on": ["create"], "channels": ["mail"]})
    aid = post_alert(nd, alert(resource="db01", event="DiskFull"))
    m = smtp.wait_for(1)[0]
    assert m.mail_from == "tocsin@example.com"
    assert sorted(m.rcpt_tos) == ["oncall@example.com", "ops@example.com"]
    assert "db01" in m.subject and "DiskFull" in m.subject, m.subject
    wait_status(nd, aid, "delivered")


def test_pagerduty_trigger_and_resolve_share_a_dedup_key(nd, fake_http):
    fake_http.answer(Response(202, body='{"status":"success","message":"Event processed"}'),
                     path="/v2/enqueue", default=Response(202, body='{"status":"success"}'))
    channel(nd, {"id": "pd", "type": "pagerduty",
                 "config": {"url": fake_http.url + "/v2/enqueue",
                            "routing_key": "0123456789abcdef0123456789abcdef"}})
    rule(nd, {"id": "r", "on": ["create", "resolve"], "channels": ["pd"]})
    post_alert(nd, alert())
    post_alert(nd, alert(severity="normal"))
    a, b = [r.json for r in fake_http.wait_for(2)]
    assert (a["event_action"], b["event_action"]) == ("trigger", "resolve")
    assert a["dedup_key"] == b["dedup_key"] and a["routing_key"] == b["routing_key"]
    assert a["payload"]["severity"] == "critical"


# ---- nothing lost, nothing twice ----------------------------------------------------------------

def test_receiver_down_then_back_delivers_each_once_in_order(daemon_factory, fake_http):
    d = daemon_factory(config={"notify": {"backoff_base": "20ms", "backoff_max": "100ms",
                                          "max_attempts": "100"}})
    channel(d, webhook(fake_http))
    rule(d, {"id": "r", "on": ["create", "stateinc", "statedec", "resolve"],
             "channels": ["hook"]})
    fake_http.down()
    ids = []
    for i in range(5):
        ids.append(post_alert(d, alert(resource=f"h{i}", severity="minor")))
        post_alert(d, alert(resource=f"h{i}", severity="critical"))
        post_alert(d, alert(resource=f"h{i}", severity="normal"))
    wait_for(lambda: len([n for n in d.notifications(limit=100)["notifications"]
                          if n["deliveryAttempts"]]) >= 5,
             what="first attempts against the receiver that is down")
    fake_http.up()
    try:
        reqs = fake_http.wait_for(15, timeout=30)
    except AssertionError:
        print(json.dumps(d.notifications(limit=100, attempts="false"), indent=1))
        raise
    seen = [r.headers["X-Tocsin-Notification"] for r in reqs]
    assert len(seen) == len(set(seen)) == 15, seen
    for aid in ids:
        changes = [r.json["change"] for r in reqs if r.json["alert"]["id"] == aid]
        assert changes == ["create", "stateinc", "resolve"], (aid, changes)


def test_kill9_in_a_retry_storm_loses_nothing(daemon_factory, fake_http):
    d = daemon_factory(config={"notify": {"backoff_base": "20ms", "backoff_max": "50ms",
                                          "max_attempts": "100"}})
    channel(d, webhook(fake_http))
    rule(d, {"id": "r", "on": ["create"], "channels": ["hook"]})
    fake_http.answer(default=Response(500, body="not now"))
    for i in range(20):
        post_alert(d, alert(resource=f"s{i}"))
    fake_http.wait_for(40, timeout=20)  # retrying
    d.kill9()
    fake_http.reset()
    fake_http.clear()
    d.restart()
    reqs = fake_http.wait_for(20, timeout=30)
    time.sleep(0.3)  # a bounded look for duplicates
    keys = [r.headers["X-Tocsin-Notification"] for r in fake_http.requests]
    assert len(keys) == len(set(keys)) == 20, keys
    assert d.notifications(status="delivered")["total"] == 20


# ---- rules on the engine's clock ----------------------------------------------------------------

def test_group_wait_sends_one_notification_for_the_group(nd, fake_http):
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "g", "on": ["create"], "channels": ["hook"], "group_by": ["environment"],
              "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"})
    for r in ("a", "b", "c"):
        post_alert(nd, alert(resource=r))
    time.sleep(0.2)
    assert fake_http.requests == []
    nd.advance(30_000)
    req = fake_http.wait_for(1)[0]
    assert sorted(a["resource"] for a in req.json["alerts"]) == ["a", "b", "c"], req.json
    # the context's group as docs/channels.md describes it
    assert req.json["group"] == {"key": 'g:{environment="Production"}', "firing": 3,
                                 "resolved": 0}, req.json["group"]


def test_a_group_too_big_for_one_context_is_sent_with_the_alerts_that_fit(nd, fake_http_factory):
    # 100 alerts of ~60 KB (text near its 64 KiB limit) are ~6 MB: the notification goes out with
    # the alerts that fit in a channel's 1 MiB body (the default body is the whole context) and
    # the group's counts of all of them. It used to be dropped without a word (over the
    # context's 4 MiB), and a group over 1 MiB failed for good at its first attempt.
    big = fake_http_factory(max_body=8 << 20)
    channel(nd, webhook(big))
    rule(nd, {"id": "g", "on": ["create"], "channels": ["hook"], "group_by": ["environment"],
              "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"})
    for i in range(100):
        post_alert(nd, alert(resource=f"big{i:03d}", text=f"{i:03d}" + "x" * 60_000))
    nd.advance(30_000)
    req = big.wait_for(1)[0]
    body = req.json
    assert len(req.body) <= 1 << 20
    assert body["group"]["firing"] == 100 and body["group"]["resolved"] == 0, body["group"]
    shown = body["alerts"]
    assert 10 <= len(shown) < 100, len(shown)
    assert len({a["id"] for a in shown}) == len(shown)
    assert body["alert"]["id"] == shown[0]["id"]


def test_a_deleted_alert_gets_the_resolve_it_is_owed(nd, fake_http):
    # a rule that told a service an alert fired tells it the alert is gone when it is deleted:
    # the resolve, rendered from the alert as it was, under a key of its own
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "fr", "on": ["create", "resolve"], "channels": ["hook"]})
    aid = post_alert(nd, alert())
    first = fake_http.wait_for(1)[0]
    expect_status(nd.delete(f"/alerta/alert/{aid}"), 200, "DELETE /alerta/alert")
    reqs = fake_http.wait_for(2)
    body = reqs[1].json
    assert body["change"] == "resolve" and body["status"] == "resolved", body
    assert body["alert"]["id"] == aid and body["alert"]["resource"] == "web01"
    assert reqs[1].headers["Idempotency-Key"] != first.headers["Idempotency-Key"]
    # a rule that does not ask for resolves sends none; an alert never notified owes none
    rule(nd, {"id": "fc", "on": ["create"], "channels": ["hook"], "match": ['resource="web02"']})
    other = post_alert(nd, alert(resource="web02"))
    fake_http.wait_for(3)
    expect_status(nd.delete(f"/alerta/alert/{other}"), 200, "DELETE /alerta/alert")
    time.sleep(0.3)  # a bounded look for a request that must not come
    assert len(fake_http.requests) == 3, fake_http.requests


def test_a_group_resolves_an_alert_deleted_since_its_last_notification(nd, fake_http):
    # the group's next flush comes after the delete, when the alert no longer exists: it is
    # rendered from the record kept at the delete, and the group's resolve reaches the service
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "g", "on": ["create"], "channels": ["hook"], "group_by": ["environment"],
              "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"})
    aid = post_alert(nd, alert())
    nd.advance(30_000)
    first = fake_http.wait_for(1)[0].json
    assert first["status"] == "firing" and first["group"]["firing"] == 1
    expect_status(nd.delete(f"/alerta/alert/{aid}"), 200, "DELETE /alerta/alert")
    nd.advance(5 * 60_000)
    body = fake_http.wait_for(2)[1].json
    assert body["status"] == "resolved" and body["group"] == {
        "key": 'g:{environment="Production"}', "firing": 0, "resolved": 1}, body["group"]
    assert body["alert"]["id"] == aid and body["alert"]["resource"] == "web01"


def test_a_deleted_inhibition_source_mutes_nothing_any_more(nd, fake_http):
    # a deleted alert leaves the rules' state: as a source it inhibited warnings of its resource
    # for good, a deleted alert never being closed (its change did not reach the rules)
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "warn", "on": ["create", "stateinc", "statedec"], "channels": ["hook"],
              "match": ['severity="warning"'],
              "inhibit": {"source": ['severity="critical"'], "equal": ["resource"]}})
    src = post_alert(nd, alert(resource="db01", event="Down", severity="critical"))
    post_alert(nd, alert(resource="db01", event="Slow", severity="warning"))
    time.sleep(0.3)
    assert fake_http.requests == []  # muted by the critical one
    expect_status(nd.delete(f"/alerta/alert/{src}"), 200, "DELETE /alerta/alert")
    post_alert(nd, alert(resource="db01", event="Lag", severity="warning"))
    req = fake_http.wait_for(1)[0]
    assert req.json["alert"]["event"] == "Lag", req.json


def test_delay_sends_only_what_is_still_firing(nd, fake_http):
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "d", "on": ["create"], "channels": ["hook"], "delay": "5m"})
    post_alert(nd, alert(resource="flappy"))
    post_alert(nd, alert(resource="steady"))
    post_alert(nd, alert(resource="flappy", severity="normal"))  # closed within the delay
    nd.advance(5 * 60_000)
    req = fake_http.wait_for(1)[0]
    time.sleep(0.3)
    assert [r.json["alert"]["resource"] for r in fake_http.requests] == ["steady"], req.json


# ---- files --------------------------------------------------------------------------------------

def test_rules_and_channels_from_a_file_reload_on_sighup(daemon_factory, fake_http, tmp_path):
    f = tmp_path / "notify.yml"
    f.write_text(f"""
channels:
  - id: filehook
    type: webhook
    config:
      url: {fake_http.url}/one
rules:
  - id: fromfile
    on: [create]
    channels: [filehook]
""")
    d = daemon_factory(config={"notify": {"files": str(f)}})
    rules = d.get("/api/v1/rules").json()["rules"]
    assert [(r["id"], r["source"]) for r in rules] == [("fromfile", "file")]
    expect_status(d.delete("/api/v1/rules/fromfile"), 409, "a rule from a file")
    post_alert(d, alert(resource="x1"))
    assert fake_http.wait_for(1)[0].path == "/one"
    f.write_text(f.read_text().replace("/one", "/two"))
    os.kill(d.proc.pid, signal.SIGHUP)
    wait_for(lambda: d.get("/api/v1/channels/filehook").json()["config"]["url"].endswith("/two"),
             what="the channel reloaded")
    post_alert(d, alert(resource="x2"))
    assert fake_http.wait_for(2)[1].path == "/two"


def test_group_state_survives_a_restart(nd, fake_http):
    channel(nd, webhook(fake_http))
    rule(nd, {"id": "g", "on": ["create"], "channels": ["hook"], "group_by": ["environment"],
              "group_wait": "30s"})
    post_alert(nd, alert(resource="a"))
    post_alert(nd, alert(resource="b"))
    nd.stop()
    nd.start()
    assert fake_http.requests == []
    nd.advance(30_000)
    req = fake_http.wait_for(1)[0]
    assert sorted(a["resource"] for a in req.json["alerts"]) == ["a", "b"], req.json


def test_slow_receiver_times_out_and_the_retry_carries_the_same_key(daemon_factory, fake_http):
    d = daemon_factory(config={"notify": {"backoff_base": "20ms", "backoff_max": "50ms",
                                          "max_attempts": "5", "timeout": "300ms"}})
    channel(d, webhook(fake_http))
    rule(d, {"id": "r", "on": ["create"], "channels": ["hook"]})
    fake_http.slow(2.0, n=1)
    aid = post_alert(d, alert())
    n = wait_status(d, aid, "delivered")[0]
    first, last = n["deliveryAttempts"][0], n["deliveryAttempts"][-1]
    assert first["httpStatus"] is None and "timed out" in first["error"].lower(), first
    assert last["httpStatus"] == 200
    keys = {r.headers["X-Tocsin-Notification"] for r in fake_http.requests}
    assert keys == {n["id"]}, keys


def test_a_channel_back_from_an_outage_gets_its_backlog_at_once(daemon_factory, fake_http):
    """Retries back off to seconds; when the channel delivers again (a new notification goes
    first), the others waiting for their retry go at once instead of waiting out their delay."""
    d = daemon_factory(config={"notify": {"backoff_base": "100ms", "backoff_max": "30s",
                                          "max_attempts": "50"}})
    channel(d, webhook(fake_http))
    rule(d, {"id": "r", "on": ["create"], "channels": ["hook"]})
    fake_http.down()
    ids = [post_alert(d, alert(resource=f"o{i}")) for i in range(4)]
    wait_for(lambda: all(len(notes_of(d, a)[0]["deliveryAttempts"]) >= 7 for a in ids),
             timeout=25, what="seven failed attempts each (the next retry is 3.2-6.4 s away)")
    fake_http.up()
    ids.append(post_alert(d, alert(resource="fresh")))
    reqs = fake_http.wait_for(5, timeout=10)
    # measured from the fresh one's delivery, which is what sets the others off: the time its
    # own way through a loaded machine takes is not the backlog's
    fresh = [r.time for r in reqs if r.json["alert"]["resource"] == "fresh"]
    assert len(fresh) == 1 and reqs[-1].time - fresh[0] < 1.2, \
        "the backlog waited for its own backoff"
    keys = [r.headers["X-Tocsin-Notification"] for r in fake_http.requests]
    assert len(keys) == len(set(keys)) == 5
