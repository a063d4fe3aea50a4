"""The docs are tested: every ```json block in docs/api.md is valid JSON."""

import json
import os
import re

from fakes import fake_http, fake_http_factory  # noqa: F401
from helpers import REPO, wait_for

DOC = os.path.join(REPO, "docs", "api.md")
BLOCK = re.compile(r"^```json[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def json_blocks():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return [(text[:m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_api_doc_has_json_examples():
    assert len(json_blocks()) >= 3


def test_every_json_block_parses():
    bad = []
    for line, block in json_blocks():
        try:
            json.loads(block)
        except ValueError as e:
            bad.append(f"docs/api.md:{line}: {e}\n{block}")
    assert not bad, "JSON code blocks that do not parse:\n" + "\n".join(bad)


README = os.path.join(REPO, "README.md")


def test_readme_tour(daemon, receiver):
    """The README's five-minute tour, run as written: its example trigger and event, and the
    exact line it says the webhook receiver prints."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    printed = re.search(r"^POST /hook (.+)$", text, re.MULTILINE)
    assert printed, "README.md no longer shows what the receiver prints"
    with open(os.path.join(REPO, "examples", "response-time-trigger.json")) as f:
        trig = json.load(f)
    with open(os.path.join(REPO, "examples", "request-event.json")) as f:
        event = json.load(f)
    trig["notifications"][0]["configuration"]["url"] = receiver.url + "/hook"
    daemon.add_triggers(trig)
    daemon.send_events(event)
    got = receiver.wait_for(1)
    assert got[0]["path"] == "/hook"
    assert got[0]["body"].decode() == printed.group(1)
    assert daemon.alerts(status="open")["total"] == 1


def doc_blocks(name):
    with open(os.path.join(REPO, "docs", name), encoding="utf-8") as f:
        return [m.group(1) for m in BLOCK.finditer(f.read())]


def test_triggers_doc_examples_are_accepted(daemon):
    """docs/triggers.md: the trigger example registers as shown, and the event example is
    accepted as an event."""
    blocks = [json.loads(b) for b in doc_blocks("triggers.md")]
    triggers = [b for b in blocks if "conditions" in b]
    events = [b for b in blocks if "properties" in b and "conditions" not in b]
    assert triggers and events
    daemon.add_triggers(triggers)
    daemon.send_events(events)
    r = daemon.get("/api/v1/triggers/" + triggers[0]["id"])
    assert r.status_code == 200
    assert r.json()["conditions"][0]["type"] == "AGGREGATION"


REQUEST = re.compile(r"^```request[ \t]*\n(.*?)^```\s*\n```response[ \t]*\n(.*?)^```",
                     re.MULTILINE | re.DOTALL)


def subset(want, got, path="$"):
    """Every key of want is in got with an equal value ("…" matches anything)."""
    if want == "…":
        return
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: expected an object, got {got!r}"
        for k, v in want.items():
            assert k in got, f"{path}.{k} missing in {got!r}"
            subset(v, got[k], f"{path}.{k}")
    elif isinstance(want, list) and want and isinstance(want[0], dict):
        assert isinstance(got, list) and len(got) >= len(want), f"{path}: got {got!r}"
        for i, v in enumerate(want):
            subset(v, got[i], f"{path}[{i}]")
    else:
        assert want == got, f"{path}: expected {want!r}, got {got!r}"


def test_alerts_doc_session(daemon):
    """docs/alerts.md's session, request by request, in order: each answer has the status and
    every field the doc shows."""
    with open(os.path.join(REPO, "docs", "alerts.md"), encoding="utf-8") as f:
        text = f.read()
    steps = REQUEST.findall(text)
    assert len(steps) >= 5, "docs/alerts.md lost its session"
    for req, resp in steps:
        line, _, body = req.partition("\n")
        method, path = line.split(" ", 1)
        status, _, want = resp.partition("\n")
        r = daemon.request(method, path, data=body.strip() or None,
                           headers={"Content-Type": "application/json"})
        assert r.status_code == int(status), f"{line}: {r.status_code} {r.text[:300]}"
        subset(json.loads(want), r.json())


def test_notifications_doc_session(daemon, fake_http):
    """docs/notifications.md's session against a local receiver, then its rule file."""
    with open(os.path.join(REPO, "docs", "notifications.md"), encoding="utf-8") as f:
        text = f.read()
    steps = REQUEST.findall(text.replace("http://RECEIVER", fake_http.url))
    assert len(steps) >= 5, "docs/notifications.md lost its session"
    for req, resp in steps:
        line, _, body = req.partition("\n")
        method, path = line.split(" ", 1)
        status, _, want = resp.partition("\n")
        if path.startswith("/api/v1/notifications"):  # the delivery runs on its own thread
            wait_for(lambda: daemon.get(path).json()["notifications"][0]["status"] ==
                     "delivered" if daemon.get(path).json()["total"] else False,
                     what="the notification delivered")
        r = daemon.request(method, path, data=body.strip() or None,
                           headers={"Content-Type": "application/json"})
        assert r.status_code == int(status), f"{line}: {r.status_code} {r.text[:300]}"
        subset(json.loads(want), r.json())
    hooks = [q for q in fake_http.requests if q.path == "/hook"]
    assert len(hooks) == 2 and hooks[1].json["alert"]["resource"] == "db01"
    assert hooks[1].headers["X-Team"] == "ops"


def test_notifications_doc_rule_file(daemon_factory, tmp_path):
    with open(os.path.join(REPO, "docs", "notifications.md"), encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"^```yaml[ \t]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL).group(1)
    (tmp_path / "notify.yml").write_text(block)
    d = daemon_factory(config={"notify": {"files": str(tmp_path / "notify.yml")}})
    assert [r["id"] for r in d.get("/api/v1/rules").json()["rules"]] == ["page-on-critical"]
    assert d.get("/api/v1/channels/oncall-mail").json()["config"]["password"] == "********"


def test_readme_notification_commands(daemon, fake_http):
    """The README's channel and rule commands, as written (the receiver's address replaced)."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    posts = re.findall(r"curl -XPOST http://localhost:8072(/api/v1/\w+) .*?\\\n\s+-d '(.*?)'\n",
                       text)
    assert [p for p, _ in posts] == ["/api/v1/channels", "/api/v1/rules"], posts
    for path, body in posts:
        body = body.replace("http://127.0.0.1:9000", fake_http.url)
        r = daemon.post(path, body)
        assert r.status_code == 201, f"{path}: {r.status_code} {r.text}"
    daemon.post("/alerta/alert", {"resource": "web01", "event": "HttpError",
                                  "environment": "Production", "severity": "major"})
    assert fake_http.wait_for(1)[0].json["change"] == "create"
