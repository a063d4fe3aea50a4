"""Helpers for the tocsin black-box tests: the daemon under test, a webhook receiver, and small
builders for the Gravitee AE JSON shapes.

The daemon is started exactly as a user starts it (`tocsin serve --listen 127.0.0.1:0 ...`); the
port it bound is read from DIR/tocsin.port. Time never passes by sleeping: tests advance the
engine's test clock. Waiting for I/O (a webhook arriving, a file appearing) polls with a bounded
deadline.
"""

import base64
import json
import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

BIN = os.environ.get("TOCSIN_BIN", "/work/main/build/tocsin")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "runtime error:",
    "LeakSanitizer",
    "ERROR: UndefinedBehaviorSanitizer",
)
ERROR_LINE = re.compile(r"(^|\s)level=error(\s|$)", re.MULTILINE)

BODY_TEMPLATE = ("${alert.id} - ${alert.name} - ${alert.source} - ${alert.description} - "
                 "${alert.severity} - ${notification.message}")


class TestFailure(AssertionError):
    pass


def wait_for(cond, timeout=15.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a truthy value, which is returned. Raises after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = cond()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TestFailure(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def utc_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def thread_stacks(pid):
    """Best effort: the thread backtraces of a hung process (gdb, if installed)."""
    if not os.path.exists("/usr/bin/gdb"):
        return ""
    try:
        p = subprocess.run(["/usr/bin/gdb", "-p", str(pid), "-batch", "-nx",
                            "-ex", "thread apply all bt 12"],
                           capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        lines = [ln for ln in (p.stdout + p.stderr).decode(errors="replace").splitlines()
                 if ln.startswith(("Thread ", "#")) or "ptrace" in ln or "No such" in ln]
        return "---- thread stacks (gdb) ----\n" + "\n".join(lines[:200])
    except (OSError, subprocess.SubprocessError):
        return ""


def basic_auth_header(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"Basic {token}"


# ----------------------------------------------------------------------------------------------
# Config

DEFAULT_CONFIG = {
    "log": {"level": "debug"},
    "engine": {"resolve_after": "0s", "test_clock": "true"},
    "notify": {"backoff_base": "50ms", "backoff_max": "200ms", "max_attempts": "3",
               "timeout": "2s"},
    "http": {"max_body": "65536", "max_frame": "65536", "max_batch": "100"},
}


def merge_config(base, overrides):
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for section, values in (overrides or {}).items():
        if isinstance(values, dict) and isinstance(out.get(section), dict):
            out[section].update(values)
        else:
            out[section] = values
    return out


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if re.fullmatch(r"[A-Za-z0-9_.:/-]+", s):
        return s
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(cfg):
    """Emits the small subset of YAML the tests need: sections of scalars, or of lists of maps."""
    lines = []
    for section, values in cfg.items():
        lines.append(f"{section}:")
        for key, val in values.items():
            if isinstance(val, list):
                lines.append(f"  {key}:")
                for item in val:
                    first = True
                    for ik, iv in item.items():
                        prefix = "    - " if first else "      "
                        lines.append(f"{prefix}{ik}: {_yaml_scalar(iv)}")
                        first = False
            else:
                lines.append(f"  {key}: {_yaml_scalar(val)}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# The daemon under test

class Daemon:
    """One tocsin process on a data directory. Restartable on the same directory."""

    def __init__(self, data_dir, config=None, auth=None, extra_args=None, allow_errors=False,
                 env=None):
        self.dir = str(data_dir)
        self.env = dict(env or {})
        self.config = merge_config(DEFAULT_CONFIG, config)
        self.auth = auth  # (user, password) or None
        self.extra_args = list(extra_args or [])
        self.allow_errors = allow_errors
        self.proc = None
        self.port = None
        self.url = None
        self.session = None
        self._sync_seq = 0
        self._sync_ready = False
        self.config_path = os.path.join(self.dir, "tocsin.yaml")
        self.port_path = os.path.join(self.dir, "tocsin.port")
        self.log_path = os.path.join(self.dir, "tocsin.log")
        with open(self.config_path, "w") as f:
            f.write(to_yaml(self.config))

    # -- process control -----------------------------------------------------------------------

    def start(self):
        if os.path.exists(self.port_path):
            os.unlink(self.port_path)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        env.update(self.env)
        args = [BIN, "serve", "--listen", "127.0.0.1:0", "--data", self.dir,
                "--config", self.config_path] + self.extra_args
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=env,
                                         stdin=subprocess.DEVNULL)
        finally:
            logf.close()
        deadline = time.monotonic() + START_TIMEOUT
        port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"tocsin exited with {self.proc.returncode} during start-up\n"
                                  + self.log_tail())
            port = self._read_port()
            if port:
                break
            time.sleep(0.01)
        if not port:
            stacks = thread_stacks(self.proc.pid)
            self.proc.kill()
            self.proc.wait()
            raise TestFailure(f"tocsin did not write tocsin.port within {START_TIMEOUT}s\n"
                              + self.log_tail() + "\n" + stacks)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        listening = f"event=listening addr=127.0.0.1:{port}"
        wait_for(lambda: listening in self.log(), timeout=10,
                 what=f"'{listening}' in the log")
        self.session = requests.Session()
        if self.auth:
            self.session.auth = self.auth
        self._sync_ready = False
        wait_for(self._healthy, timeout=START_TIMEOUT, what="GET /health 200")
        return self

    def _read_port(self):
        try:
            with open(self.port_path) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() and int(text) > 0 else None

    def _healthy(self):
        try:
            return requests.get(self.url + "/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM; the process must exit 0 within 10 s."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        sent = utc_now()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            stacks = thread_stacks(self.proc.pid)
            self.proc.kill()
            self.proc.wait()
            raise TestFailure(f"tocsin did not exit within {STOP_TIMEOUT}s of SIGTERM (sent at "
                              f"{sent})\n" + self.log_tail() + "\n" + stacks)
        finally:
            if self.session:
                self.session.close()
        if rc != 0:
            raise TestFailure(f"tocsin exited with {rc} after SIGTERM (expected 0)\n"
                              + self.log_tail())
        return rc

    def kill9(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
        if self.session:
            self.session.close()

    def restart(self):
        if self.running():
            self.stop()
        return self.start()

    # -- logs ----------------------------------------------------------------------------------

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=60):
        lines = self.log().splitlines()
        return "---- tocsin log (last %d lines) ----\n%s" % (n, "\n".join(lines[-n:]))

    def check_log(self):
        text = self.log()
        problems = [m for m in SANITIZER_MARKERS if m in text]
        if problems:
            raise TestFailure(f"sanitizer report in the log: {problems}\n" + self.log_tail(120))
        if not self.allow_errors:
            bad = [ln for ln in text.splitlines() if ERROR_LINE.search(ln)]
            if bad:
                raise TestFailure("level=error lines in the log:\n" + "\n".join(bad[:20])
                                  + "\n" + self.log_tail())

    # -- HTTP ----------------------------------------------------------------------------------

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.session.request(method, self.url + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        if body is not None and not isinstance(body, (bytes, str)):
            kw["json"] = body
        elif body is not None:
            kw["data"] = body
            kw.setdefault("headers", {}).setdefault("Content-Type", "application/json")
        return self.request("POST", path, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, json=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- AE surface ----------------------------------------------------------------------------

    def add_triggers(self, triggers):
        r = self.post("/http/triggers", triggers)
        n = len(triggers) if isinstance(triggers, list) else 1
        expect_status(r, 200, "POST /http/triggers")
        assert r.json() == {"triggers": n}, f"POST /http/triggers answered {r.text!r}"
        return r

    def send_events(self, events):
        r = self.post("/http/events", events)
        n = len(events) if isinstance(events, list) else 1
        expect_status(r, 202, "POST /http/events")
        assert r.json() == {"events": n}, f"POST /http/events answered {r.text!r}"
        return r

    def alerts(self, **params):
        """GET /api/v1/alerts, trigger-level view: each alert raised by a trigger is shown in the
        trigger's terms (see trigger_view), so tests of trigger semantics read naturally. Accepts
        trigger=<id> and status=resolved (the closed alerts) besides the API's own filters."""
        params = dict(params)
        if "trigger" in params:
            params["attributes.trigger"] = params.pop("trigger")
        if params.get("status") == "resolved":
            params["status"] = "closed"
        if "severity" in params:
            params["severity"] = {"info": "informational"}.get(params["severity"],
                                                               params["severity"])
        params.setdefault("show-raw-data", "true")
        params.setdefault("page-size", "1000")
        r = self.get("/api/v1/alerts", params=params)
        expect_status(r, 200, f"GET /api/v1/alerts {params}")
        body = r.json()
        body["alerts"] = [trigger_view(a) for a in body.get("alerts", [])]
        return body

    def alerts_of(self, trigger_id, **params):
        return self.alerts(trigger=trigger_id, **params)["alerts"]

    def wait_alerts(self, trigger_id, n=1, timeout=15.0, **params):
        return wait_for(lambda: (lambda a: a if len(a) >= n else None)(
            self.alerts_of(trigger_id, **params)), timeout=timeout,
            what=f"{n} alert(s) of trigger {trigger_id} {params}")

    def notifications(self, **params):
        r = self.get("/api/v1/notifications", params=params)
        expect_status(r, 200, f"GET /api/v1/notifications {params}")
        return r.json()

    def advance(self, ms):
        """Advances the engine's test clock by ms; every due timer fires."""
        r = self.post("/api/v1/admin/clock", {"advance": ms})
        expect_status(r, 200, f"POST /api/v1/admin/clock advance={ms}")
        body = r.json()
        assert isinstance(body.get("now"), int), f"clock answer without integer now: {r.text!r}"
        return body["now"]

    def sync(self, ws=None):
        """Barrier: returns once every event sent before it has been processed by the engine and
        its alert changes are visible in the store. Uses a private sentinel trigger that fires on
        every event; its alert's count (or last properties) shows the barrier event was handled.
        With ws, the barrier event goes down that WebSocket, behind the frames sent on it."""
        if not self._sync_ready:
            self.add_triggers(trigger("__sync", source="TOCSIN_SYNC", conditions=[
                threshold("seq", "GTE", 0)]))
            self._sync_ready = True
        self._sync_seq += 1
        seq = self._sync_seq
        event = {"type": "TOCSIN_SYNC", "properties": {"seq": seq}}
        if ws is not None:
            ws.send(json.dumps(event))
        else:
            self.send_events(event)

        def done():
            alerts = self.alerts_of("__sync")
            return any(a.get("count", 0) >= seq or (a.get("properties") or {}).get("seq") == seq
                       for a in alerts)
        wait_for(done, timeout=20, what=f"sync barrier {seq}")


def trigger_view(a):
    """An alert raised by a trigger, in the trigger's terms: trigger id, name, source, count,
    status open|resolved, severity info|warning|critical, the firing event's properties, the
    projection, the message. The alert itself stays available under "alert"."""
    attrs = a.get("attributes") or {}
    closed = a.get("status") == "closed"
    sev = a.get("previousSeverity") if closed else a.get("severity")
    raw = a.get("rawData")
    try:
        props = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        props = None
    view = dict(a)
    view.update({
        "trigger": attrs.get("trigger"),
        "name": a.get("event"),
        "source": a.get("group"),
        "count": attrs.get("count", 0),
        "status": "resolved" if closed else a.get("status"),
        "severity": {"informational": "info"}.get(sev, sev),
        "properties": props if isinstance(props, dict) else {},
        "projection": a.get("labels") or {},
        "message": a.get("text"),
        "alert": a,
    })
    return view


def expect_status(r, status, what=""):
    if r.status_code != status:
        raise TestFailure(f"{what or r.request.method + ' ' + r.url}: expected HTTP {status}, "
                          f"got {r.status_code} {r.text[:500]!r}")


# ----------------------------------------------------------------------------------------------
# The webhook receiver

class Receiver:
    """A local HTTP server recording every request. Answers are scripted: a queue of statuses
    used first, then `default` (200). `down()` answers 503 to everything until `up()`."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.script = []
        self.default = 200
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                body = self._read_body()
                with rec.lock:
                    status = rec.script.pop(0) if rec.script else rec.default
                    rec.requests.append({
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "status": status,
                        "time": time.monotonic(),
                    })
                payload = b'{"ok":true}' if 200 <= status < 300 else b'{"ok":false}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False  # close() must not wait for the sender's keep-alive links

            def handle_error(self, request, client_address):
                pass  # a peer killed with -9 resets its connection: not the receiver's problem

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, *statuses, default=None):
        with self.lock:
            self.script = list(statuses)
            if default is not None:
                self.default = default

    def down(self):
        with self.lock:
            self.default = 503

    def up(self):
        with self.lock:
            self.default = 200

    def received(self, path_prefix=None):
        with self.lock:
            reqs = list(self.requests)
        if path_prefix:
            reqs = [r for r in reqs if r["path"].startswith(path_prefix)]
        return reqs

    def wait_for(self, n, timeout=15.0, path_prefix=None):
        return wait_for(lambda: (lambda r: r if len(r) >= n else None)(
            self.received(path_prefix)), timeout=timeout,
            what=f"{n} webhook request(s) at {self.url}{path_prefix or ''}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------------------------------------
# Builders for Gravitee AE JSON

def threshold(prop, op, value):
    return {"type": "THRESHOLD", "property": prop, "operator": op, "threshold": value}


def string_cond(prop, op, pattern, ignore_case=False):
    return {"type": "STRING", "property": prop, "operator": op, "pattern": pattern,
            "ignoreCase": ignore_case}


def webhook(url, body=BODY_TEMPLATE, method="POST", headers=None):
    return {"type": "webhook-notifier", "configuration": {
        "url": url, "method": method,
        "headers": headers if headers is not None else [
            {"name": "Content-Type", "value": "application/json"}],
        "useSystemProxy": False, "body": body}}


def trigger(tid, name=None, source="REQUEST", conditions=None, **extra):
    t = {"id": tid, "name": name or f"trigger {tid}", "source": source, "enabled": True,
         "conditions": conditions or [threshold("response.response_time", "LT", 1500)],
         "dampening": {"mode": "STRICT_COUNT", "trueEvaluations": 1}}
    t.update(extra)
    return t


def response_time_trigger(tid, receiver_url, source="REQUEST",
                          description="Response time is below 1.5 s"):
    """The trigger of Gravitee AE's integration guide."""
    return {
        "id": tid,
        "name": "Response time Threshold",
        "source": source,
        "enabled": True,
        "severity": "WARNING",
        "description": description,
        "conditions": [{"property": "response.response_time", "operator": "LT",
                        "threshold": 1500, "type": "THRESHOLD"}],
        "dampening": {"mode": "STRICT_COUNT", "trueEvaluations": 1},
        "notifications": [{
            "type": "webhook-notifier",
            "configuration": {
                "url": receiver_url,
                "method": "POST",
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "useSystemProxy": False,
                "body": BODY_TEMPLATE,
            },
        }],
    }


def check_rendered_body(body, tid, source="REQUEST", description="Response time is below 1.5 s",
                        name="Response time Threshold", severity="warning"):
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    parts = text.split(" - ", 5)
    assert len(parts) == 6, f"webhook body has not 6 ' - ' separated parts: {text!r}"
    expected = [tid, name, source, description, severity]
    assert parts[:5] == expected, f"webhook body {text!r}: expected to start with {expected}"
    assert parts[5].strip(), f"webhook body {text!r}: empty notification.message"


# ----------------------------------------------------------------------------------------------
# Data-driven fire / no-fire cases

class ADV:
    """A step that advances the test clock by ms."""

    def __init__(self, ms):
        self.ms = ms

    def __repr__(self):
        return f"ADV({self.ms})"


def _case_event(step, source):
    if "properties" in step or "context" in step:
        event = dict(step)
    else:
        event = {"properties": step}
    event["type"] = source
    return event


def run_fire_case(d, tid, source, trigger_body, steps, fires):
    """Registers trigger_body (id and source set here), plays steps (event properties dicts,
    {"properties":..., "context":...} event bodies, a list of those sent as one batch, or ADV),
    and checks whether it fired."""
    body = dict(trigger_body)
    body["id"] = tid
    body["source"] = source
    body.setdefault("name", tid)
    d.add_triggers(body)
    for step in steps:
        if isinstance(step, ADV):
            d.sync()  # the events before the advance are processed at the old time
            d.advance(step.ms)
            continue
        if isinstance(step, list):  # a batch of events in one request
            d.send_events([_case_event(e, source) for e in step])
        else:
            d.send_events(_case_event(step, source))
    d.sync()
    alerts = d.alerts_of(tid)
    if fires:
        assert alerts, f"{tid}: expected the trigger to fire after {steps}, no alert"
        assert all(a["trigger"] == tid for a in alerts), alerts
    else:
        assert alerts == [], f"{tid}: expected no fire after {steps}, got {alerts}"
    return alerts


def check_error(r, status, field=None):
    """A 4xx JSON error: {"error": "...", "field": ...}. status may be an int or a tuple."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status_code in statuses, \
        f"{r.request.method} {r.url}: expected {statuses}, got {r.status_code} {r.text[:300]!r}"
    try:
        body = r.json()
    except ValueError:
        raise TestFailure(f"{r.request.method} {r.url}: error answer is not JSON: {r.text[:300]!r}")
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], f"no 'error' in {body}"
    if field is not None:
        assert body.get("field") == field, f"expected field {field!r}, got {body}"
    return body
