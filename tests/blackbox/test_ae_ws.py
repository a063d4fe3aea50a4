"""The Gravitee AE flow over WebSocket, with Basic auth as the AE connector sends it."""

import json

import pytest
import websocket

from conftest import ADMIN
from helpers import basic_auth_header, check_rendered_body, response_time_trigger, wait_for

NODE_DISCOVERY_KEYS = {"action", "member", "endpoint", "id", "type"}


def connect(d, path, auth=ADMIN):
    header = [f"Authorization: {basic_auth_header(*auth)}"] if auth else []
    return websocket.create_connection(f"ws://127.0.0.1:{d.port}{path}", header=header,
                                       timeout=10)


def recv_json(ws):
    op, data = ws.recv_data()
    assert op == websocket.ABNF.OPCODE_TEXT, f"expected a text frame, got opcode {op}: {data!r}"
    return json.loads(data.decode("utf-8"))


def check_node_discovery(frame, d):
    assert set(frame) >= NODE_DISCOVERY_KEYS, f"NODE_DISCOVERY frame {frame}"
    assert frame["type"] == "NODE_DISCOVERY", frame
    assert frame["action"] == "CHANGE", frame
    assert isinstance(frame["member"], str) and frame["member"], frame
    assert isinstance(frame["id"], str) and frame["id"], frame
    assert frame["endpoint"] == f"http://127.0.0.1:{d.port}", \
        f"endpoint {frame['endpoint']!r} is not this node's address http://127.0.0.1:{d.port}"


def wait_trigger(d, tid):
    wait_for(lambda: d.get(f"/api/v1/triggers/{tid}").status_code == 200,
             what=f"trigger {tid} stored")


def check_error_frame(frame, field=None, status=400):
    assert frame.get("type") == "ERROR", frame
    assert frame.get("status") == status, frame
    assert isinstance(frame.get("error"), str) and frame["error"], frame
    if field is not None:
        assert frame.get("field") == field, f"expected field {field!r}: {frame}"


def test_ws_flow_matches_http(auth_daemon, receiver):
    d = auth_daemon
    ws = connect(d, "/ws/triggers")
    try:
        check_node_discovery(recv_json(ws), d)
        ws.send(json.dumps(response_time_trigger("ws-one", receiver.url + "/one",
                                                 source="WS_ONE")))
        ws.send(json.dumps([
            response_time_trigger("ws-two", receiver.url + "/two", source="WS_TWO"),
            response_time_trigger("ws-three", receiver.url + "/three", source="WS_THREE"),
        ]))
        for tid in ("ws-one", "ws-two", "ws-three"):
            wait_trigger(d, tid)
    finally:
        ws.close()

    ev = connect(d, "/ws/events")
    try:
        check_node_discovery(recv_json(ev), d)
        ev.send(json.dumps({"type": "WS_ONE",
                            "properties": {"response.response_time": 500}}))
        ev.send(json.dumps([
            {"type": "WS_TWO", "properties": {"response": {"response_time": 400}}},
            {"type": "WS_THREE", "properties": {"response.response_time": 300}},
            {"type": "WS_THREE", "properties": {"response.response_time": 2000}},
        ]))
        reqs = receiver.wait_for(3)
        by_path = {r["path"]: r for r in reqs}
        assert sorted(by_path) == ["/one", "/three", "/two"], sorted(by_path)
        check_rendered_body(by_path["/one"]["body"], "ws-one", source="WS_ONE")
        check_rendered_body(by_path["/two"]["body"], "ws-two", source="WS_TWO")
        check_rendered_body(by_path["/three"]["body"], "ws-three", source="WS_THREE")
        for r in reqs:
            assert r["headers"].get("content-type") == "application/json"
            assert r["headers"].get("x-tocsin-notification")
        d.sync(ws=ev)
        assert len(receiver.received()) == 3, [r["path"] for r in receiver.received()]
    finally:
        ev.close()


def test_ws_trigger_then_http_event_and_http_trigger_then_ws_event(auth_daemon, receiver):
    """The same triggers and events behave the same whichever way they come in."""
    d = auth_daemon
    ws = connect(d, "/ws/triggers")
    try:
        recv_json(ws)
        ws.send(json.dumps(response_time_trigger("mix-ws", receiver.url + "/a", source="MIX_A")))
        wait_trigger(d, "mix-ws")
    finally:
        ws.close()
    d.add_triggers(response_time_trigger("mix-http", receiver.url + "/b", source="MIX_B"))
    d.send_events({"type": "MIX_A", "properties": {"response.response_time": 1}})
    ev = connect(d, "/ws/events")
    try:
        recv_json(ev)
        ev.send(json.dumps({"type": "MIX_B", "properties": {"response.response_time": 1}}))
        reqs = receiver.wait_for(2)
    finally:
        ev.close()
    by_path = {r["path"]: r for r in reqs}
    check_rendered_body(by_path["/a"]["body"], "mix-ws", source="MIX_A")
    check_rendered_body(by_path["/b"]["body"], "mix-http", source="MIX_B")


BAD_TRIGGER_FRAMES = [
    ("malformed-json", '{"id": "x", "name": ', None),
    ("unknown-condition-type",
     json.dumps({"id": "bad", "name": "bad", "source": "S",
                 "conditions": [{"type": "NOPE", "property": "p"}]}),
     "conditions[0].type"),
    ("unknown-operator-in-array",
     json.dumps([{"id": "okish", "name": "n", "source": "S", "conditions": [
         {"type": "THRESHOLD", "property": "p", "operator": "LT", "threshold": 1}]},
        {"id": "bad2", "name": "n", "source": "S", "conditions": [
            {"type": "THRESHOLD", "property": "p", "operator": "LESS", "threshold": 1}]}]),
     "[1].conditions[0].operator"),
    ("scalar", "42", None),
    ("invalid-utf8", b'{"id": "\xff\xfe", "name": "n", "source": "S"}', None),
]


@pytest.mark.parametrize("name,frame,field", BAD_TRIGGER_FRAMES,
                         ids=[c[0] for c in BAD_TRIGGER_FRAMES])
def test_ws_bad_trigger_frame_gets_error_frame_and_connection_stays_usable(
        auth_daemon, receiver, name, frame, field):
    d = auth_daemon
    ws = connect(d, "/ws/triggers")
    try:
        recv_json(ws)
        ws.send(frame, opcode=websocket.ABNF.OPCODE_TEXT)  # bytes are sent as they are
        check_error_frame(recv_json(ws), field)
        # The connection is still usable: a good trigger sent after is stored and works.
        ws.send(json.dumps(response_time_trigger("after-bad", receiver.url, source="AFTER")))
        wait_trigger(d, "after-bad")
        # Exactly one error frame per refused frame: the next frame answers the next bad one.
        ws.send(json.dumps({"id": "z", "name": "z", "source": "S", "conditions": [
            {"type": "THRESHOLD", "property": "p", "operator": "LT", "threshold": "x"}]}))
        check_error_frame(recv_json(ws), "conditions[0].threshold")
    finally:
        ws.close()
    # A batch is refused as a whole.
    assert d.get("/api/v1/triggers/okish").status_code == 404
    d.send_events({"type": "AFTER", "properties": {"response.response_time": 1}})
    check_rendered_body(receiver.wait_for(1)[0]["body"], "after-bad", source="AFTER")


def test_ws_bad_event_frames_get_error_frames(auth_daemon, receiver):
    d = auth_daemon
    d.add_triggers(response_time_trigger("ev-after-bad", receiver.url, source="EVB"))
    ws = connect(d, "/ws/events")
    try:
        recv_json(ws)
        ws.send('[{"type": "EVB", ')
        check_error_frame(recv_json(ws))
        ws.send(json.dumps({"properties": {"response.response_time": 1}}))
        check_error_frame(recv_json(ws), "type")
        ws.send(json.dumps([{"type": "EVB", "properties": {"response.response_time": 1}},
                            {"properties": {}}]))
        check_error_frame(recv_json(ws), "[1].type")
        ws.send("x" * 70000)  # over http.max_frame (65536)
        frame = recv_json(ws)
        assert frame.get("type") == "ERROR" and 400 <= frame.get("status", 0) < 500, frame
        ws.send(json.dumps([{"type": "EVB", "properties": {"response.response_time": 1}}] * 101))
        frame = recv_json(ws)  # over http.max_batch (100)
        assert frame.get("type") == "ERROR" and frame.get("status") in (400, 413), frame
        # Still usable: a good event fires the trigger.
        ws.send(json.dumps({"type": "EVB", "properties": {"response.response_time": 7}}))
        reqs = receiver.wait_for(1)
        check_rendered_body(reqs[0]["body"], "ev-after-bad", source="EVB")
        d.sync(ws=ws)
        # The refused batch (with a good first element) did not fire anything.
        assert len(receiver.received()) == 1
        assert d.alerts_of("ev-after-bad")[0]["count"] == 1
    finally:
        ws.close()


@pytest.mark.parametrize("path", ["/ws/triggers", "/ws/events"])
@pytest.mark.parametrize("creds", [None, ("admin", "wrong")], ids=["none", "wrong-password"])
def test_ws_upgrade_needs_credentials(auth_daemon, path, creds):
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        connect(auth_daemon, path, auth=creds)
    assert e.value.status_code == 401, str(e.value)
    assert auth_daemon.get("/health").status_code == 200
