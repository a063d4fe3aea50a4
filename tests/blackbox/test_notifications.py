"""Webhook notifications: retries with backoff, failure after max_attempts (3 in the test
config), templated url / headers / body, and the outbox visible at /api/v1/notifications."""

import socket
import ssl
import subprocess

import pytest

from helpers import Receiver, check_error, expect_status, threshold, trigger, wait_for, webhook


def fire_trigger(d, tid, notifications, name=None, severity="INFO", source="NOTE"):
    d.add_triggers(trigger(tid, name=name or tid, source=source, severity=severity,
                           conditions=[threshold("rt", "GT", 100)], notifications=notifications))
    d.send_events({"type": source, "properties": {"rt": 500, "api": "a1"}})


def wait_notification(d, tid, status, timeout=10.0):
    def probe():
        notes = d.notifications(trigger=tid)["notifications"]
        return notes if notes and all(n["status"] == status for n in notes) else None
    return wait_for(probe, timeout=timeout, what=f"notifications of {tid} {status}")


def test_retry_until_delivered(daemon, receiver):
    d = daemon
    receiver.answer(500, 500)  # then 200
    fire_trigger(d, "retry", [webhook(receiver.url + "/r", body="${alert.name}")])
    reqs = receiver.wait_for(3)
    assert [r["status"] for r in reqs] == [500, 500, 200]
    ids = {r["headers"].get("x-tocsin-notification") for r in reqs}
    assert len(ids) == 1 and None not in ids, f"idempotency header differs between attempts: {ids}"
    assert {r["body"] for r in reqs} == {b"retry"}

    note = wait_notification(d, "retry", "delivered")
    assert len(note) == 1, note
    n = note[0]
    assert n["attempts"] == 3, n
    assert n["lastHttpStatus"] == 200, n
    assert n["maxAttempts"] == 3, n
    assert n["channel"] == "webhook-notifier"
    assert n["method"] == "POST"
    assert n["url"] == receiver.url + "/r"
    assert n["trigger"] == "retry"
    assert n["resolve"] is False
    assert n["id"] == ids.pop(), "X-Tocsin-Notification should carry the notification id"
    assert n["alert"] == d.alerts_of("retry")[0]["id"]
    assert isinstance(n["createdTime"], str) and n["createdTime"]
    assert n["nextAttemptTime"] is None
    assert d.notifications(status="delivered", trigger="retry")["total"] == 1
    assert d.notifications(status="failed", trigger="retry")["total"] == 0
    assert d.notifications(alert=n["alert"])["total"] == 1
    d.sync()
    assert len(receiver.received()) == 3


@pytest.mark.allow_errors
def test_always_failing_receiver_gives_failed(daemon, receiver):
    d = daemon
    receiver.answer(default=500)
    fire_trigger(d, "failing", [webhook(receiver.url + "/f")])
    note = wait_notification(d, "failing", "failed")[0]
    assert note["attempts"] == 3, note
    assert note["maxAttempts"] == 3, note
    assert note["lastHttpStatus"] == 500, note
    failed = d.notifications(status="failed")
    assert failed["total"] == 1, failed
    assert failed["notifications"][0]["id"] == note["id"]
    assert failed["notifications"][0]["lastHttpStatus"] == 500
    assert d.notifications(status="pending")["total"] == 0
    assert d.notifications(status="delivered")["total"] == 0
    assert len(receiver.received()) == 3, [r["status"] for r in receiver.received()]
    check_error(d.get("/api/v1/notifications", params={"status": "lost"}), 400)


@pytest.mark.allow_errors
def test_env_var_overrides_config_file(daemon_factory, receiver):
    """TOCSIN_NOTIFY_MAX_ATTEMPTS beats notify.max_attempts: 3 in the file."""
    d = daemon_factory(env={"TOCSIN_NOTIFY_MAX_ATTEMPTS": "2"})
    receiver.answer(default=500)
    fire_trigger(d, "env-attempts", [webhook(receiver.url)])
    note = wait_notification(d, "env-attempts", "failed")[0]
    assert note["maxAttempts"] == 2 and note["attempts"] == 2, note
    assert len(receiver.received()) == 2


@pytest.mark.allow_errors
def test_unreachable_receiver_gives_failed_with_error(daemon):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    fire_trigger(daemon, "unreachable", [webhook(f"http://127.0.0.1:{port}/x")])
    note = wait_notification(daemon, "unreachable", "failed")[0]
    assert note["attempts"] == 3, note
    assert note["lastHttpStatus"] in (None, 0), note
    assert isinstance(note["lastError"], str) and note["lastError"], note


def test_url_and_headers_are_templated(daemon, receiver):
    d = daemon
    hook = webhook(receiver.url + "/hook/${alert.name}?name=${alert.name}&sev=${alert.severity}",
                   method="PUT", body="${alert.name} is ${alert.severity}", headers=[
                       {"name": "Content-Type", "value": "text/plain"},
                       {"name": "X-Alert", "value": "${alert.name}"},
                       {"name": "X-Sev", "value": "sev-${alert.severity}"}])
    fire_trigger(d, "tmpl", [hook], name="cpu-high", severity="CRITICAL")
    req = receiver.wait_for(1)[0]
    assert req["method"] == "PUT"
    assert req["path"] == "/hook/cpu-high?name=cpu-high&sev=critical", req["path"]
    assert req["headers"].get("x-alert") == "cpu-high", req["headers"]
    assert req["headers"].get("x-sev") == "sev-critical", req["headers"]
    assert req["headers"].get("content-type") == "text/plain"
    assert req["body"] == b"cpu-high is critical"
    n = wait_notification(d, "tmpl", "delivered")[0]
    assert n["url"] == receiver.url + "/hook/cpu-high?name=cpu-high&sev=critical"
    assert n["method"] == "PUT"
    assert set(n["headers"]) >= {"Content-Type", "X-Alert", "X-Sev"}, n["headers"]


def test_body_template_variables(daemon, receiver):
    d = daemon
    body = ("${alert.conditions[0].property}|${alert.conditions[0].operator}|"
            "${notification.properties['api']}|${notification.properties['node.hostname']}|"
            "${alert.severity}|${alert.source}|${alert.status}|${notification.timestamp}")
    d.add_triggers(trigger("vars", source="VARS", severity="INFO",
                           conditions=[threshold("response.response_time", "LT", 1500)],
                           notifications=[webhook(receiver.url, body=body)]))
    d.send_events({"type": "VARS", "context": {"node.hostname": "gw-1"},
                   "properties": {"response.response_time": 20, "api": "a1"}})
    got = receiver.wait_for(1)[0]["body"].decode()
    parts = got.split("|")
    assert parts[:7] == ["response.response_time", "LT", "a1", "gw-1", "info", "VARS",
                         "open"], got
    assert parts[7].isdigit() and int(parts[7]) > 0, f"notification.timestamp {parts[7]!r}"


def test_numeric_template_variables(daemon, receiver):
    d = daemon
    body = ("${alert.conditions[0].threshold}|${notification.result.value}|"
            "${notification.result.threshold}|${notification.properties['response.response_time']}")
    d.add_triggers(trigger("nums", source="NUMS", conditions=[
        threshold("response.response_time", "LT", 1500)], notifications=[webhook(receiver.url,
                                                                                  body=body)]))
    d.add_triggers(trigger("fracs", source="FRACS", conditions=[threshold("v", "LT", 1.5)],
                           notifications=[webhook(receiver.url + "/f", body=(
                               "${alert.conditions[0].threshold}|${notification.result.value}"))]))
    d.send_events({"type": "NUMS", "properties": {"response.response_time": 500}})
    assert receiver.wait_for(1)[0]["body"] == b"1500|500|1500|500"
    d.send_events({"type": "FRACS", "properties": {"v": 0.25}})
    assert receiver.wait_for(1, path_prefix="/f")[0]["body"] == b"1.5|0.25"


def test_use_system_proxy(daemon_factory, receiver):
    """useSystemProxy true goes through http_proxy from the environment; false goes direct even
    when the environment names a proxy."""
    proxy = receiver  # the proxy sees absolute-form request targets
    direct = Receiver()
    try:
        d = daemon_factory(env={"http_proxy": proxy.url, "HTTP_PROXY": proxy.url,
                                "no_proxy": "", "NO_PROXY": ""})
        via = webhook("http://tocsin-proxy-test.invalid/via", body="via")
        via["configuration"]["useSystemProxy"] = True
        fire_trigger(d, "proxied", [via], source="PROXIED")
        fire_trigger(d, "direct", [webhook(direct.url + "/direct", body="direct")],
                     source="DIRECT")
        got = proxy.wait_for(1)[0]
        assert got["path"] == "http://tocsin-proxy-test.invalid/via", got["path"]
        assert got["body"] == b"via"
        assert direct.wait_for(1)[0]["path"] == "/direct"
        wait_notification(d, "direct", "delivered")
        assert len(proxy.received()) == 1, [r["path"] for r in proxy.received()]
    finally:
        direct.close()


@pytest.mark.allow_errors
def test_tls_verification_on_by_default(daemon, tmp_path):
    """A webhook to an https server with a self-signed certificate is refused."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    tls = Receiver()
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        tls.server.socket = ctx.wrap_socket(tls.server.socket, server_side=True)
        url = f"https://127.0.0.1:{tls.port}/secure"
        fire_trigger(daemon, "tls", [webhook(url)])
        note = wait_notification(daemon, "tls", "failed")[0]
        assert note["lastHttpStatus"] in (None, 0), note
        assert "certificate" in (note["lastError"] or "").lower(), note
        assert tls.received() == [], "a request went through despite an untrusted certificate"
    finally:
        tls.close()


def test_two_webhooks_on_one_trigger(daemon, receiver):
    d = daemon
    fire_trigger(d, "two", [webhook(receiver.url + "/one", body="1"),
                            webhook(receiver.url + "/two", body="2")])
    reqs = receiver.wait_for(2)
    assert sorted((r["path"], r["body"]) for r in reqs) == [("/one", b"1"), ("/two", b"2")]
    notes = wait_notification(d, "two", "delivered")
    assert len(notes) == 2


def test_notifications_list_paging(daemon, receiver):
    d = daemon
    for i in range(3):
        fire_trigger(d, f"np-{i}", [webhook(receiver.url)], source=f"NP{i}")
    receiver.wait_for(3)
    wait_for(lambda: d.notifications(status="delivered")["total"] == 3, what="3 delivered")
    r = d.get("/api/v1/notifications", params={"limit": 2})
    expect_status(r, 200)
    page = r.json()
    assert page["total"] == 3 and len(page["notifications"]) == 2, page
    rest = d.notifications(limit=2, offset=2)
    ids = {n["id"] for n in page["notifications"] + rest["notifications"]}
    assert len(ids) == 3
