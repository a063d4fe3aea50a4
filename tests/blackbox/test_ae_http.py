"""The Gravitee AE flow over HTTP: POST /http/triggers the integration guide's "Response time
Threshold" trigger, POST /http/events, and the webhook receiver gets the rendered body."""

import pytest

from helpers import check_rendered_body, response_time_trigger, wait_for


def _event(shape, value, source="REQUEST"):
    if shape == "flat":
        props = {"response.response_time": value}
    else:
        props = {"response": {"response_time": value}}
    return {"type": source, "properties": props}


@pytest.mark.parametrize("shape", ["flat", "nested"])
def test_response_time_threshold_notifies_once(daemon, receiver, shape):
    tid = f"rt-threshold-{shape}"
    daemon.add_triggers(response_time_trigger(tid, receiver.url + "/hook"))

    # 2000 ms is not below 1500 ms: no alert, no notification.
    daemon.send_events(_event(shape, 2000))
    daemon.sync()
    assert daemon.alerts_of(tid) == [], "an event with response_time 2000 raised an alert"
    assert daemon.notifications(trigger=tid)["total"] == 0
    assert receiver.received() == []

    daemon.send_events(_event(shape, 500))
    reqs = receiver.wait_for(1)
    req = reqs[0]
    assert req["method"] == "POST"
    assert req["path"] == "/hook"
    check_rendered_body(req["body"], tid)
    assert req["headers"].get("content-type") == "application/json", req["headers"]
    assert req["headers"].get("x-tocsin-notification"), \
        f"no X-Tocsin-Notification header in {req['headers']}"

    # Exactly one delivery: the outbox holds one notification for the trigger, delivered once.
    notes = wait_for(lambda: (lambda n: n if n["total"] >= 1 and all(
        x["status"] == "delivered" for x in n["notifications"]) else None)(
        daemon.notifications(trigger=tid)), what="notification delivered")
    assert notes["total"] == 1, notes
    assert notes["notifications"][0]["attempts"] == 1
    assert notes["notifications"][0]["lastHttpStatus"] == 200
    daemon.sync()
    assert len(receiver.received()) == 1, receiver.received()


def test_alert_id_is_the_trigger_id_and_message_is_rendered(daemon, receiver):
    """alert.id is the trigger id in AE semantics; the message part is non-empty."""
    tid = "5bd7b8ad-4fd6-4b0b-97b8-ad4fd6db0b58"
    daemon.add_triggers(response_time_trigger(tid, receiver.url))
    daemon.send_events({"type": "REQUEST", "properties": {"response.response_time": 1499}})
    req = receiver.wait_for(1)[0]
    check_rendered_body(req["body"], tid)


def test_http_batches_of_triggers_and_events(daemon, receiver):
    triggers = [response_time_trigger(f"batch-{i}", receiver.url + f"/b{i}", source=f"SRC_{i}")
                for i in range(3)]
    daemon.add_triggers(triggers)
    events = [{"type": f"SRC_{i}", "properties": {"response.response_time": 10 * i}}
              for i in range(3)]
    events.append({"type": "SRC_0", "properties": {"response.response_time": 9000}})
    daemon.send_events(events)
    reqs = receiver.wait_for(3)
    by_path = {r["path"]: r for r in reqs}
    assert sorted(by_path) == ["/b0", "/b1", "/b2"], sorted(by_path)
    for i in range(3):
        check_rendered_body(by_path[f"/b{i}"]["body"], f"batch-{i}", source=f"SRC_{i}")


def test_event_of_another_type_does_not_meet_the_trigger(daemon, receiver):
    tid = "only-request"
    daemon.add_triggers(response_time_trigger(tid, receiver.url))
    daemon.send_events({"type": "NODE_HEARTBEAT", "properties": {"response.response_time": 5}})
    daemon.sync()
    assert daemon.alerts_of(tid) == []
    assert receiver.received() == []


def test_native_events_endpoint_behaves_like_http_events(daemon, receiver):
    tid = "native-events"
    daemon.add_triggers(response_time_trigger(tid, receiver.url))
    r = daemon.post("/api/v1/events", {"type": "REQUEST",
                                       "properties": {"response.response_time": 3}})
    assert r.status_code == 202, r.text
    assert r.json() == {"events": 1}
    check_rendered_body(receiver.wait_for(1)[0]["body"], tid)
