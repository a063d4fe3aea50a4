"""kill -9: acknowledged triggers survive, a pending notification survives and is delivered
exactly once after the restart."""

import pytest

from helpers import (check_rendered_body, response_time_trigger, threshold, trigger, wait_for,
                     webhook)


@pytest.mark.allow_errors  # recovery after kill -9 may legitimately complain
def test_triggers_survive_kill9(daemon, receiver):
    d = daemon
    d.add_triggers([response_time_trigger("k9-1", receiver.url, source="K9"),
                    trigger("k9-2", source="K9_OTHER")])
    d.post("/api/v1/triggers", trigger("k9-3", source="K9_THIRD"))
    d.delete("/api/v1/triggers/k9-2")
    before = d.get("/api/v1/triggers/k9-1").json()
    old_port = d.port
    d.kill9()
    d.start()  # same data dir, port 0 again
    assert d.port > 0
    r = d.get("/api/v1/triggers/k9-1")
    assert r.status_code == 200, f"trigger k9-1 lost after kill -9 (port {old_port}->{d.port})"
    assert r.json() == before
    assert d.get("/api/v1/triggers/k9-3").status_code == 200, "trigger k9-3 lost after kill -9"
    assert d.get("/api/v1/triggers/k9-2").status_code == 404, "deleted trigger came back"
    assert d.get("/api/v1/triggers").json()["total"] == 2
    d.send_events({"type": "K9", "properties": {"response.response_time": 1}})
    check_rendered_body(receiver.wait_for(1)[0]["body"], "k9-1", source="K9")


@pytest.mark.allow_errors
def test_pending_notification_survives_kill9_and_is_delivered_once(daemon_factory, receiver):
    d = daemon_factory(config={"notify": {"max_attempts": "10"}})
    receiver.down()  # answers 503
    d.add_triggers(trigger("k9-note", name="k9-note", source="K9N",
                           conditions=[threshold("rt", "GT", 100)],
                           notifications=[webhook(receiver.url + "/n", body="${alert.name}")]))
    d.send_events({"type": "K9N", "properties": {"rt": 500}})
    first = receiver.wait_for(1)[0]
    note_id = first["headers"].get("x-tocsin-notification")
    assert note_id, first["headers"]
    d.kill9()
    receiver.up()
    d.start()

    def delivered():
        ok = [r for r in receiver.received()
              if r["headers"].get("x-tocsin-notification") == note_id and 200 <= r["status"] < 300]
        return ok or None
    wait_for(delivered, timeout=15, what="delivery after restart")
    notes = wait_for(lambda: (lambda n: n if n and n[0]["status"] == "delivered" else None)(
        d.notifications(trigger="k9-note")["notifications"]), what="outbox shows delivered")
    assert len(notes) == 1, notes
    assert notes[0]["id"] == note_id
    assert notes[0]["lastHttpStatus"] == 200
    d.sync()
    reqs = receiver.received()
    ok = [r for r in reqs if 200 <= r["status"] < 300]
    assert len(ok) == 1, f"delivered {len(ok)} times: {[(r['status'], r['path']) for r in reqs]}"
    assert all(r["headers"].get("x-tocsin-notification") == note_id for r in reqs)
    assert all(r["body"] == b"k9-note" for r in reqs)


def test_graceful_restart_keeps_alerts_and_outbox(daemon, receiver):
    d = daemon
    d.add_triggers(trigger("gr", source="GR", conditions=[threshold("rt", "GT", 100)],
                           notifications=[webhook(receiver.url)]))
    d.send_events({"type": "GR", "properties": {"rt": 500}})
    receiver.wait_for(1)
    alert = d.wait_alerts("gr")[0]
    wait_for(lambda: d.notifications(trigger="gr", status="delivered")["total"] == 1,
             what="delivered")
    d.restart()
    after = d.get(f"/api/v1/alerts/{alert['id']}")
    assert after.status_code == 200, after.text
    assert after.json()["alert"]["status"] == "open"
    assert after.json()["alert"]["attributes"]["count"] == alert["count"]
    assert d.notifications(trigger="gr", status="delivered")["total"] == 1
    assert len(receiver.received()) == 1, "a delivered notification was sent again after restart"


def test_sigterm_drains_accepted_events(daemon):
    """Events answered 202 are queued to the engine; SIGTERM drains them before exiting, so
    their alert changes are in the store after a restart."""
    d = daemon
    d.add_triggers(trigger("drain", source="DRAIN", conditions=[threshold("rt", "GT", 0)]))
    for _ in range(2):
        d.send_events([{"type": "DRAIN", "properties": {"rt": 1}}] * 100)
    d.stop()
    d.start()
    alerts = d.alerts_of("drain")
    assert len(alerts) == 1 and alerts[0]["count"] == 200, alerts
