"""HTTP Basic auth, start-up refusals, --check-config, version, passwd, SIGTERM."""

import os
import re
import signal
import subprocess
import time

import pytest
import requests

from helpers import BIN, DEFAULT_CONFIG, check_error, to_yaml, trigger, wait_for

pytestmark = pytest.mark.usefixtures("tocsin_binary")

PROTECTED = [("GET", "/api/v1/triggers"), ("GET", "/api/v1/alerts"),
             ("GET", "/api/v1/notifications"), ("GET", "/api/v1/stats"),
             ("POST", "/http/triggers"), ("POST", "/http/events"), ("POST", "/api/v1/events")]


def test_auth_required(auth_daemon):
    d = auth_daemon
    for creds in (None, ("admin", "wrong"), ("nobody", "secret")):
        for method, path in PROTECTED:
            r = requests.request(method, d.url + path, auth=creds, timeout=10,
                                 json={"type": "REQUEST"} if method == "POST" else None)
            check_error(r, 401)
            assert r.headers.get("WWW-Authenticate") == 'Basic realm="tocsin"', r.headers
    # Malformed Authorization headers are 401, not 400/500.
    for value in ("Basic", "Basic !!!notbase64", "Bearer abc", "Basic " + "A" * 1000):
        r = requests.get(d.url + "/api/v1/triggers", headers={"Authorization": value},
                         timeout=10)
        check_error(r, 401)
    # /health needs no credentials.
    r = requests.get(d.url + "/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text
    # With the right password everything works.
    d.add_triggers(trigger("authed"))
    r = d.get("/api/v1/triggers/authed")
    assert r.status_code == 200, r.text
    # Nothing reached the store without credentials.
    assert d.get("/api/v1/triggers").json()["total"] == 1


def test_health_and_stats(daemon):
    r = requests.get(daemon.url + "/health", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    daemon.send_events([{"type": "REQUEST", "properties": {}}] * 3)
    stats = wait_for(lambda: (lambda s: s if s["events"]["processed"] >= 3 else None)(
        daemon.get("/api/v1/stats").json()), what="stats processed >= 3")
    assert stats["events"]["received"] >= 3
    for k in ("triggers", "alertsOpen"):
        assert isinstance(stats[k], int), stats
    assert set(stats["engine"]["latencyUs"]) >= {"p50", "p99", "max"}, stats
    assert set(stats["notifications"]) >= {"delivered", "failed", "retried", "inFlight"}
    # the store writer's transactions: an alert makes at least one commit, timed
    r = daemon.post("/alerta/alert", {"resource": "web01", "event": "stats", "environment":
                                      "Production", "severity": "major"})
    assert r.status_code == 201, r.text
    store = daemon.get("/api/v1/stats").json()["store"]
    assert store["commits"] >= 1 and store["messages"] >= store["commits"], store
    assert store["failedCommits"] == 0, store
    assert store["commitUs"]["samples"] >= 1 and store["commitUs"]["max"] >= 0, store
    assert store["waitUs"]["samples"] >= 1 and store["waitUs"]["max"] >= 0, store
    assert {"checkpoints", "checkpointUsMax"} <= set(store), store
    # every commit wrote at least a frame (24-byte header and a page) to the WAL
    assert store["walBytes"] >= store["commits"] * (24 + 1024), store


LOG_LINE = re.compile(r"^ts=\S+ level=(debug|info|warn|error) event=[A-Za-z0-9_.:-]+( |$)")


def test_log_lines_are_key_value(daemon):
    daemon.add_triggers(trigger("logfmt"))
    daemon.send_events({"type": "REQUEST", "properties": {"response.response_time": 1}})
    daemon.wait_alerts("logfmt")
    daemon.stop()
    lines = [ln for ln in daemon.log().splitlines() if ln.strip()]
    assert lines, "empty log"
    bad = [ln for ln in lines if not LOG_LINE.match(ln)]
    assert not bad, ("log lines not in 'ts=... level=... event=... k=v' form:\n"
                     + "\n".join(bad[:10]))


def test_password_never_logged(auth_daemon):
    d = auth_daemon
    requests.get(d.url + "/api/v1/triggers", auth=("admin", "wrong-pass-XYZ"), timeout=10)
    d.get("/api/v1/triggers")
    d.stop()
    assert "wrong-pass-XYZ" not in d.log() and "secret" not in d.log()


def write_config(tmp_path, text):
    path = tmp_path / "tocsin.yaml"
    path.write_text(text)
    return str(path)


def run(args, timeout=20, **kw):
    if "input" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    return subprocess.run([BIN] + args, capture_output=True, timeout=timeout, **kw)


def test_refuses_non_loopback_without_auth(tmp_path):
    cfg = write_config(tmp_path, to_yaml({"log": {"level": "info"}}))
    args = [BIN, "serve", "--listen", "0.0.0.0:0", "--data", str(tmp_path), "--config", cfg]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    try:
        out, _ = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail("tocsin started on 0.0.0.0 without auth and without --insecure:\n"
                    + out.decode(errors="replace"))
    text = out.decode(errors="replace")
    assert p.returncode != 0, text
    assert "auth" in text.lower(), f"the refusal does not mention authentication: {text!r}"
    assert not os.path.exists(tmp_path / "tocsin.port") or \
        (tmp_path / "tocsin.port").read_text().strip() in ("", "0")


def test_insecure_allows_non_loopback(daemon_factory):
    d = daemon_factory(start=False)  # started by hand: the fixture listens on 127.0.0.1
    args = [BIN, "serve", "--listen", "0.0.0.0:0", "--data", d.dir, "--config",
            d.config_path, "--insecure"]
    with open(d.log_path, "ab") as logf:
        p = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    try:
        port = wait_for(d._read_port, timeout=15, what="tocsin.port")
        r = requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert r.status_code == 200
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
    assert rc == 0, f"exit {rc} after SIGTERM\n" + d.log_tail()


BAD_CONFIGS = [
    ("unknown-key", "log:\n  level: debug\n  no_such_option: 1\n", 3),
    ("bad-value", "notify:\n  backoff_base: 50ms\n  max_attempts: banana\n", 3),
    ("bad-duration", "engine:\n  resolve_after: soon\n", 2),
    ("unknown-section", "log:\n  level: info\nwhatever:\n  x: 1\n", 3),
    ("bad-yaml", "log:\n  level: [debug\n", None),
    ("bad-log-level", "log:\n  level: loud\n", 2),
]


@pytest.mark.parametrize("cid,text,line", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_check_config_rejects_bad_file(tmp_path, cid, text, line):
    cfg = write_config(tmp_path, text)
    p = run(["serve", "--check-config", "--config", cfg, "--data", str(tmp_path)])
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode == 1, f"{cid}: exit {p.returncode}: {out!r}"
    if line is not None:
        assert f"{cfg}:{line}" in out, f"{cid}: expected '{cfg}:{line}' in {out!r}"
    else:
        assert re.search(re.escape(cfg) + r":\d+", out), f"{cid}: no file:line in {out!r}"
    assert "AddressSanitizer" not in out and "runtime error:" not in out, out


def test_check_config_accepts_good_file(tmp_path, password_hash):
    cfg = dict(DEFAULT_CONFIG)
    cfg["auth"] = {"users": [{"name": "admin", "password_hash": password_hash}]}
    path = write_config(tmp_path, to_yaml(cfg))
    p = run(["serve", "--check-config", "--config", path, "--data", str(tmp_path)])
    assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")
    assert not (tmp_path / "tocsin.port").exists(), "--check-config must not start the server"


def test_bad_env_value_is_refused(tmp_path):
    cfg = write_config(tmp_path, to_yaml(DEFAULT_CONFIG))
    env = dict(os.environ, TOCSIN_NOTIFY_MAX_ATTEMPTS="banana")
    p = run(["serve", "--check-config", "--config", cfg, "--data", str(tmp_path)], env=env)
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode == 1, f"exit {p.returncode}: {out!r}"
    assert "TOCSIN_NOTIFY_MAX_ATTEMPTS" in out, out


def test_missing_config_file(tmp_path):
    p = run(["serve", "--check-config", "--config", str(tmp_path / "nope.yaml")])
    assert p.returncode != 0
    assert "nope.yaml" in (p.stdout + p.stderr).decode(errors="replace")


def test_version():
    p = run(["version"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().startswith("tocsin "), p.stdout


def test_passwd_hashes_are_salted(password_hash):
    p = run(["passwd"], input=b"secret")
    assert p.returncode == 0
    again = p.stdout.decode().splitlines()[0]
    assert again.startswith("$argon2id$") and again != password_hash, "hashes must be salted"
    assert b"secret" not in p.stdout + p.stderr, "passwd echoed the password"


def test_sigterm_exits_zero_with_traffic(daemon, receiver):
    d = daemon
    d.add_triggers(trigger("term", source="TERM", notifications=[
        {"type": "webhook-notifier", "configuration": {"url": receiver.url, "body": "x"}}]))
    d.send_events([{"type": "TERM", "properties": {"response.response_time": i}}
                   for i in range(50)])
    t0 = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - t0 < 10
