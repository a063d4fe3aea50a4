"""Fixtures for the tocsin black-box tests.

daemon          a fresh tocsin on 127.0.0.1:0 in a temp dir (function scope)
daemon_factory  start daemons with config overrides / auth (function scope, all torn down)
shared_daemon   one daemon per test module, for data-driven tables (cases use unique ids)
auth_daemon     a daemon with Basic auth users (admin/secret)
receiver        a webhook receiver on 127.0.0.1:0

Teardown: SIGTERM -> exit 0 within 10 s, no sanitizer report, no level=error line (unless the test
is marked @pytest.mark.allow_errors).
"""

import os
import subprocess

import pytest

import helpers
from helpers import BIN, Daemon, Receiver

ADMIN = ("admin", "secret")


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_errors: the test expects level=error log lines")


@pytest.fixture(scope="session")
def tocsin_binary():
    if not (os.path.isfile(BIN) and os.access(BIN, os.X_OK)):
        pytest.fail(f"tocsin binary not found at {BIN} (set TOCSIN_BIN)", pytrace=False)
    return BIN


@pytest.fixture(scope="session")
def password_hash(tocsin_binary):
    """An argon2id hash of "secret" from `tocsin passwd`, which prints it on its first line."""
    p = subprocess.run([BIN, "passwd"], input=b"secret", capture_output=True, timeout=60)
    assert p.returncode == 0, f"tocsin passwd exited {p.returncode}: {p.stderr!r}"
    first = p.stdout.decode().splitlines()[0].strip() if p.stdout else ""
    assert first.startswith("$argon2id$"), f"tocsin passwd printed {p.stdout!r}"
    return first


def _teardown(daemons):
    failures = []
    for d in daemons:
        try:
            if d.running():
                d.stop()
        except AssertionError as e:
            failures.append(str(e))
        try:
            d.check_log()
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        raise helpers.TestFailure("\n\n".join(failures))


class _Factory:
    def __init__(self, tmp_path_factory, allow_errors, password_hash_fn):
        self.tmp = tmp_path_factory
        self.allow_errors = allow_errors
        self.password_hash_fn = password_hash_fn
        self.started = []

    def __call__(self, config=None, auth=False, extra_args=None, start=True, env=None,
                 admin=False):
        """auth: one Basic user, ADMIN (scopes read and write; with admin=True an
        administrator). Other auth options in config["auth"] are kept."""
        config = dict(config or {})
        creds = None
        if auth:
            user = {"name": ADMIN[0], "password_hash": self.password_hash_fn()}
            if admin:
                user["admin"] = "true"
            config["auth"] = dict(config.get("auth") or {}, users=[user])
            creds = ADMIN
        d = Daemon(self.tmp.mktemp("tocsin"), config=config, auth=creds,
                   extra_args=extra_args, allow_errors=self.allow_errors, env=env)
        self.started.append(d)
        if start:
            d.start()
        return d


@pytest.fixture
def daemon_factory(request, tmp_path_factory, tocsin_binary):
    allow = request.node.get_closest_marker("allow_errors") is not None
    factory = _Factory(tmp_path_factory, allow,
                       lambda: request.getfixturevalue("password_hash"))
    yield factory
    _teardown(factory.started)


@pytest.fixture
def daemon(daemon_factory):
    return daemon_factory()


@pytest.fixture
def auth_daemon(daemon_factory):
    return daemon_factory(auth=True)


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory, tocsin_binary):
    d = Daemon(tmp_path_factory.mktemp("tocsin-shared"))
    d.start()
    yield d
    _teardown([d])


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def shared_receiver():
    r = Receiver()
    yield r
    r.close()
