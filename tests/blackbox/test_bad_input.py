"""Bad input over HTTP, data-driven: every refusal is a 4xx JSON error naming the field where one
applies, never a 5xx, and the daemon stays healthy. A refused batch stores nothing."""

import json

import pytest

from helpers import check_error, threshold, trigger


def good_trigger(tid="bad-input-ok"):
    return trigger(tid, source="BAD_INPUT", conditions=[threshold("rt", "LT", 1500)])


def with_cond(**changes):
    t = good_trigger()
    t["conditions"][0].update(changes)
    return t


def without(key):
    t = good_trigger()
    del t[key]
    return t


def with_field(**changes):
    t = good_trigger()
    t.update(changes)
    return t


def nested(depth, open_="[", close="]"):
    return (open_ * depth + close * depth).encode()


def nested_obj(depth):
    return ('{"a":' * depth + "1" + "}" * depth).encode()


def big_event_body(size):
    return json.dumps({"type": "REQUEST", "properties": {"blob": "x" * size}}).encode()


TRIG = "/http/triggers"
EVT = "/http/events"
API_TRIG = "/api/v1/triggers"

# (case id, path, body: bytes sent as is or an object sent as JSON, statuses, field or None)
CASES = [
    ("malformed-json", TRIG, b'{"id": "x", "name": ', (400,), None),
    ("malformed-json-trailing", TRIG, b'{"id": "x"} garbage', (400,), None),
    ("malformed-json-events", EVT, b'[{"type": "REQUEST"},', (400,), None),
    ("threshold-as-string", TRIG, with_cond(threshold="1500"), (400,), "conditions[0].threshold"),
    ("unknown-condition-type", TRIG, with_cond(type="FREQUENCY_OF_DOOM"), (400,),
     "conditions[0].type"),
    ("unknown-operator", TRIG, with_cond(operator="LESS"), (400,), "conditions[0].operator"),
    ("missing-id", TRIG, without("id"), (400,), "id"),
    ("missing-name", TRIG, without("name"), (400,), "name"),
    ("missing-source", TRIG, without("source"), (400,), "source"),
    ("missing-conditions", TRIG, without("conditions"), (400,), "conditions"),
    ("empty-conditions", TRIG, with_field(conditions=[]), (400,), "conditions"),
    ("name-not-string", TRIG, with_field(name=42), (400,), "name"),
    ("unknown-severity", TRIG, with_field(severity="APOCALYPTIC"), (400,), "severity"),
    ("unknown-dampening-mode", TRIG, with_field(dampening={"mode": "SOMETIMES"}), (400,),
     "dampening.mode"),
    ("conditions-not-array", TRIG, with_field(conditions={"type": "THRESHOLD"}), (400,),
     "conditions"),
    ("missing-threshold-property", TRIG, with_cond(property=None), (400,),
     "conditions[0].property"),
    ("batch-bad-element", TRIG, [good_trigger("batch-ok-0"),
                                 with_cond(operator="LESS")], (400,), "[1].conditions[0].operator"),
    ("batch-bad-element-api", API_TRIG, with_cond(operator="LESS"), (400,),
     "conditions[0].operator"),
    ("invalid-utf8-trigger", TRIG,
     b'{"id": "u8", "name": "\xc3\x28", "source": "S", "conditions": []}', (400,), None),
    ("invalid-utf8-event", EVT, b'{"type": "REQUEST", "properties": {"k": "\xff\xfe"}}',
     (400,), None),
    ("too-big-event", EVT, big_event_body(70000), (413,), None),
    ("too-big-trigger", TRIG, json.dumps(with_field(description="d" * 70000)).encode(), (413,),
     None),
    ("empty-body-events", EVT, b"", (400,), None),
    ("empty-body-triggers", TRIG, b"", (400,), None),
    ("scalar-number", EVT, b"42", (400,), None),
    ("scalar-string", TRIG, b'"trigger"', (400,), None),
    ("scalar-null", EVT, b"null", (400,), None),
    ("scalar-true", TRIG, b"true", (400,), None),
    ("array-of-scalars", EVT, b"[1, 2]", (400,), "[0]"),
    ("deep-arrays-events", EVT, nested(10000), (400, 413), None),
    ("deep-arrays-triggers", TRIG, nested(10000), (400, 413), None),
    ("deep-objects", EVT, nested_obj(10000), (400, 413), None),
    ("deep-properties", EVT, b'{"type": "REQUEST", "properties": ' + nested_obj(10000) + b"}",
     (400, 413), None),
    ("event-missing-type", EVT, {"properties": {"rt": 1}}, (400,), "type"),
    ("event-type-not-string", EVT, {"type": 7, "properties": {}}, (400,), "type"),
    ("event-properties-not-object", EVT, {"type": "REQUEST", "properties": [1, 2]}, (400,),
     "properties"),
    ("event-batch-missing-type", EVT, [{"type": "REQUEST"}, {"properties": {}}], (400,),
     "[1].type"),
    ("event-native-missing-type", "/api/v1/events", {"properties": {}}, (400,), "type"),
]


@pytest.mark.parametrize("cid,path,body,statuses,field", CASES, ids=[c[0] for c in CASES])
def test_bad_input(shared_daemon, cid, path, body, statuses, field):
    d = shared_daemon
    r = d.post(path, body if isinstance(body, bytes) else json.dumps(body).encode())
    assert r.status_code < 500, f"{cid}: 5xx answer {r.status_code} {r.text[:200]!r}"
    check_error(r, statuses, field)
    assert d.get("/health").status_code == 200, f"{cid}: daemon unhealthy after bad input"


def test_refused_trigger_batch_stores_nothing(shared_daemon):
    d = shared_daemon
    r = d.post(TRIG, [good_trigger("whole-0"), good_trigger("whole-1"),
                      with_cond(operator="NOPE")])
    check_error(r, 400, "[2].conditions[0].operator")
    for tid in ("whole-0", "whole-1"):
        assert d.get(f"/api/v1/triggers/{tid}").status_code == 404, f"{tid} stored"


@pytest.mark.parametrize("path", [TRIG, EVT])
def test_batch_over_max_batch(shared_daemon, path):
    d = shared_daemon
    if path == TRIG:
        items = [good_trigger(f"many-{i}") for i in range(101)]
    else:
        items = [{"type": "REQUEST", "properties": {"i": i}} for i in range(101)]
    r = d.post(path, items)
    body = check_error(r, (400, 413))
    if r.status_code == 400:
        assert "field" in body, f"400 for an oversize batch must name the field: {body}"
    if path == TRIG:
        assert d.get("/api/v1/triggers/many-0").status_code == 404
    # Exactly max_batch is fine.
    if path == EVT:
        ok = d.post(path, items[:100])
        assert ok.status_code == 202 and ok.json() == {"events": 100}, ok.text


def test_still_works_after_bad_input(shared_daemon, receiver):
    """After every bad request above, the same daemon still takes triggers and fires."""
    d = shared_daemon
    d.add_triggers(trigger("after-all", source="AFTER_ALL",
                           conditions=[threshold("rt", "GT", 1)],
                           notifications=[{"type": "webhook-notifier", "configuration": {
                               "url": receiver.url, "method": "POST", "body": "ok"}}]))
    d.send_events({"type": "AFTER_ALL", "properties": {"rt": 2}})
    assert receiver.wait_for(1)[0]["body"] == b"ok"
