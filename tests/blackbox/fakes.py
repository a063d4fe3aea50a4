"""Local fake services for the notification black-box tests.

FakeHTTP   an HTTP/1.1 keep-alive server on 127.0.0.1:0 (optionally TLS) that records every
           request and answers as scripted per path prefix: fail, 429 + Retry-After, slow, drop
           the connection, go down (refuse connections) and come back on the same port.
FakeSMTP   an SMTP server (Debian's python3-aiosmtpd) on 127.0.0.1:0 that records the envelope
           and the parsed message; optional AUTH PLAIN/LOGIN, STARTTLS or implicit TLS (SMTPS),
           scripted DATA failures.

Fixtures (function scope, everything stopped at teardown):
    fake_http            a FakeHTTP on plain HTTP
    fake_http_factory    fake_http_factory(tls=False, ...) -> a new FakeHTTP
    fake_smtp            a FakeSMTP without auth or TLS
    fake_smtp_factory    fake_smtp_factory(user=None, password=None, starttls=False, ...)
    tls_cert             (cert_path, key_path) of a throwaway self-signed certificate for
                         127.0.0.1/localhost (session scope); skips the test without openssl

Use them from a test module with `from fakes import fake_http  # noqa: F401`, or for the whole
suite from conftest.py with `from fakes import *  # noqa: F401,F403` (see __all__).

Waiting never sleeps blindly: wait_for() blocks on a Condition that every recorded request or
message notifies, with a bounded deadline. Everything is bounded: request bodies (max_body),
recorded requests (max_requests; past it requests are still answered and counted in `overflow`),
and a response's delay is cut short by stop() or down().
"""

import email
import email.policy
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from requests.structures import CaseInsensitiveDict

__all__ = ["FakeHTTP", "FakeSMTP", "Response", "make_cert", "fake_http", "fake_http_factory",
           "fake_smtp", "fake_smtp_factory", "tls_cert"]

DEFAULT_TIMEOUT = 10.0
MAX_BODY = 1 << 20
MAX_REQUESTS = 100_000
MAX_HEADER_LINE = 16 * 1024


class FakeError(AssertionError):
    pass


# ----------------------------------------------------------------------------------------------
# A throwaway certificate

def make_cert(directory):
    """Writes cert.pem and key.pem (self-signed EC P-256, CN and SAN 127.0.0.1 and localhost,
    valid one day) into directory with the openssl CLI. Returns (cert_path, key_path), or None
    when openssl is not installed."""
    exe = shutil.which("openssl")
    if not exe:
        return None
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run([exe, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    return cert, key


def _server_ctx(cert):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert[0], cert[1])
    return ctx


# ----------------------------------------------------------------------------------------------
# HTTP

class Response:
    """One scripted answer. status None with drop=True closes the connection without answering.
    body: bytes, str, or a JSON-serialisable object (sent as application/json). delay: seconds
    before the answer is written (cut short by stop() or down())."""

    def __init__(self, status=200, body=None, headers=None, delay=0.0, drop=False):
        self.status = status
        self.headers = dict(headers or {})
        self.delay = float(delay)
        self.drop = drop
        if body is None:
            body = b"ok"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            self.headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        self.body = body
        self.headers.setdefault("Content-Type", "text/plain")

    def __repr__(self):
        return f"Response({self.status}, delay={self.delay}, drop={self.drop})"


class Request:
    """A recorded request. headers is case-insensitive; json is None unless the body parsed as
    JSON; time is time.monotonic() when the whole body had been read, wall the time.time()."""

    __slots__ = ("method", "target", "path", "query", "headers", "body", "json", "time", "wall",
                 "status", "peer", "tls")

    def __repr__(self):
        return f"<{self.method} {self.target} -> {self.status}, {len(self.body)} bytes>"

    def text(self):
        return self.body.decode("utf-8", "replace")


class _Route:
    def __init__(self, default):
        self.queue = deque()
        self.default = default


class FakeHTTP:
    """A local HTTP(S) receiver. url is http(s)://127.0.0.1:PORT; every answer is 200 "ok"
    unless scripted. Scripts are per path prefix: the longest prefix that has a script wins;
    "" (the default) covers every path."""

    def __init__(self, tls=None, max_body=MAX_BODY, max_requests=MAX_REQUESTS):
        """tls: None, or (cert_path, key_path) as returned by make_cert()."""
        self.max_body = max_body
        self.max_requests = max_requests
        self.tls = tls
        self._ctx = _server_ctx(tls) if tls else None
        self._cond = threading.Condition()
        self._requests = []
        self.overflow = 0
        self._routes = {"": _Route(Response())}
        self._conns = set()
        self._down = threading.Event()
        self._stopped = threading.Event()
        self._server = None
        self._thread = None
        self.port = 0
        self._listen()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"

    # -- server ------------------------------------------------------------------------------

    def _listen(self):
        fake = self
        handler = _handler_class(fake)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

            def get_request(self):
                sock, addr = self.socket.accept()
                if fake._ctx is not None:
                    sock = fake._ctx.wrap_socket(sock, server_side=True,
                                                 do_handshake_on_connect=False)
                return sock, addr

            def handle_error(self, request, client_address):
                pass  # peers reset connections (kill -9, down()): not the fake's problem

        self._server = Server(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"fake-http-{self.port}")
        self._thread.start()

    def _close_listener(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._cond:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self):
        """Stops listening (connections are refused) and cuts every open connection, including
        answers being delayed. up() listens again on the same port."""
        self._down.set()
        self._close_listener()

    def up(self):
        if self._server is not None:
            return
        self._down.clear()
        deadline = time.monotonic() + 5
        while True:
            try:
                self._listen()
                return
            except OSError:  # the port is briefly busy: retry within a bounded time
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    @property
    def is_down(self):
        return self._down.is_set()

    def stop(self):
        self._stopped.set()
        self._down.set()
        self._close_listener()

    close = stop

    # -- scripting ---------------------------------------------------------------------------

    def _route(self, path):
        r = self._routes.get(path)
        if r is None:
            r = self._routes[path] = _Route(None)
        return r

    def answer(self, *responses, path="", default=None):
        """Queues responses (Response, or an int status) for requests under path, in order;
        default (Response or int), if given, replaces the answer once the queue is empty."""
        with self._cond:
            r = self._route(path)
            r.queue.extend(_resp(x) for x in responses)
            if default is not None:
                r.default = _resp(default)

    def fail_next(self, n, status=500, path="", body=None):
        self.answer(*[Response(status, body if body is not None else "fail")] * n, path=path)

    def answer_429(self, retry_after=1, n=1, path="", body=None):
        """The next n requests get 429 with Retry-After: retry_after (seconds, or an HTTP date
        string; None for no header)."""
        h = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self.answer(*[Response(429, body if body is not None else "slow down", h)] * n,
                    path=path)

    def slow(self, seconds, n=None, path="", status=200):
        """The next n answers (every answer from now on when n is None) come after seconds."""
        if n is None:
            self.answer(path=path, default=Response(status, delay=seconds))
        else:
            self.answer(*[Response(status, delay=seconds)] * n, path=path)

    def drop_next(self, n=1, path=""):
        """The next n requests are read, recorded, and their connection closed unanswered."""
        self.answer(*[Response(None, drop=True)] * n, path=path)

    def reset(self, path=None):
        """Forgets scripts (all, or path's) and answers 200 "ok" again."""
        with self._cond:
            if path is None:
                self._routes = {"": _Route(Response())}
            else:
                self._routes.pop(path, None)

    def _next_response(self, path):
        """The longest prefix of path with queued answers pops one; else the longest prefix
        with a default gives it ("" always has one)."""
        with self._cond:
            routes = sorted(((p, r) for p, r in self._routes.items() if path.startswith(p)),
                            key=lambda pr: len(pr[0]), reverse=True)
            for _, r in routes:
                if r.queue:
                    return r.queue.popleft()
            for _, r in routes:
                if r.default is not None:
                    return r.default
            return Response()

    # -- records -----------------------------------------------------------------------------

    def _record(self, req):
        with self._cond:
            if len(self._requests) < self.max_requests:
                self._requests.append(req)
            else:
                self.overflow += 1
            self._cond.notify_all()

    @property
    def requests(self):
        with self._cond:
            return list(self._requests)

    def requests_for(self, path):
        """Recorded requests whose path (query excluded) starts with path."""
        return [r for r in self.requests if r.path.startswith(path)]

    def clear(self):
        with self._cond:
            self._requests.clear()
            self.overflow = 0

    def wait_for(self, count, timeout=DEFAULT_TIMEOUT, path=""):
        """Blocks until at least count requests under path have been recorded; returns them.
        Raises FakeError after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self._requests if r.path.startswith(path)]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FakeError(f"timed out after {timeout}s waiting for {count} request(s) "
                                    f"to {self.url}{path}: got {len(got)}: {got[-5:]}")
                self._cond.wait(left)

    def __repr__(self):
        return f"<FakeHTTP {self.url} {'down' if self.is_down else 'up'}>"


def _resp(x):
    return x if isinstance(x, Response) else Response(int(x))


def _handler_class(fake):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30  # an idle keep-alive connection is closed after this

        def setup(self):
            if fake._ctx is not None:
                self.request.settimeout(10)
                self.request.do_handshake()
            super().setup()
            with fake._cond:
                fake._conns.add(self.request)

        def finish(self):
            with fake._cond:
                fake._conns.discard(self.request)
            try:
                super().finish()
            except OSError:
                pass

        def _read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    line = self.rfile.readline(MAX_HEADER_LINE)
                    size = int(line.strip().split(b";")[0] or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(MAX_HEADER_LINE).strip():
                            pass  # trailers
                        return bytes(out)
                    if len(out) + size > fake.max_body:
                        return None
                    out += self.rfile.read(size)
                    self.rfile.readline(MAX_HEADER_LINE)
            n = int(self.headers.get("Content-Length") or 0)
            if n > fake.max_body:
                return None
            return self.rfile.read(n) if n > 0 else b""

        def _handle(self):
            try:
                body = self._read_body()
            except ValueError:
                body = None
            if body is None:
                self.close_connection = True
                self._send(Response(413, "body too large or malformed"))
                return
            parts = urlsplit(self.path)
            req = Request()
            req.method = self.command
            req.target = self.path
            req.path = parts.path
            req.query = parse_qs(parts.query, keep_blank_values=True)
            req.headers = CaseInsensitiveDict(self.headers.items())
            req.body = body
            req.json = None
            if body:
                try:
                    req.json = json.loads(body)
                except ValueError:
                    pass
            req.time = time.monotonic()
            req.wall = time.time()
            req.peer = self.client_address
            req.tls = fake._ctx is not None
            resp = fake._next_response(req.path)
            req.status = resp.status
            fake._record(req)
            if resp.delay > 0 and (fake._down.wait(resp.delay) or fake._stopped.is_set()):
                self.close_connection = True
                return  # went down while delaying: the connection is cut unanswered
            if resp.drop:
                self.close_connection = True
                return
            self._send(resp)

        def _send(self, resp):
            self.send_response(resp.status)
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

        def log_message(self, *args):
            pass

    return Handler


# ----------------------------------------------------------------------------------------------
# SMTP

class Mail:
    """A recorded message: envelope, the raw DATA (CRLF line ends), the parsed message (email.message.EmailMessage,
    policy.default: msg["Subject"] is decoded), its text and html parts (str or None), and
    whether the session had authenticated (as whom) and was under TLS."""

    __slots__ = ("mail_from", "rcpt_tos", "data", "message", "text", "html", "login", "tls",
                 "peer", "time", "answer")

    def __repr__(self):
        return f"<Mail from={self.mail_from} to={self.rcpt_tos} subject={self.subject!r}>"

    @property
    def subject(self):
        return self.message["Subject"]

    @property
    def headers(self):
        return self.message


def _part(msg, kind):
    part = msg.get_body(preferencelist=(kind,))
    if part is None or part.get_content_type() != f"text/{kind}":
        return None
    return part.get_content()


class _SMTPHandler:
    def __init__(self, fake):
        self.fake = fake

    async def handle_DATA(self, server, session, envelope):
        fake = self.fake
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        m = Mail()
        m.mail_from = envelope.mail_from
        m.rcpt_tos = list(envelope.rcpt_tos)
        m.data = data
        # parsed with \n line ends (the wire's \r\n kept in data)
        m.message = email.message_from_bytes(data.replace(b"\r\n", b"\n"),
                                             policy=email.policy.default)
        m.text = _part(m.message, "plain")
        m.html = _part(m.message, "html")
        m.login = None
        if session.authenticated and session.auth_data is not None:
            login = getattr(session.auth_data, "login", None)
            m.login = login.decode("utf-8", "replace") if isinstance(login, bytes) else login
        transport = getattr(server, "transport", None)
        m.tls = session.ssl is not None or (
            transport is not None and transport.get_extra_info("sslcontext") is not None)
        m.peer = session.peer
        m.time = time.monotonic()
        with fake._cond:
            m.answer = fake._script.popleft() if fake._script else "250 2.0.0 OK queued"
            if len(fake._mails) < fake.max_messages:
                fake._mails.append(m)
            else:
                fake.overflow += 1
            fake._cond.notify_all()
        return m.answer


class FakeSMTP:
    """A local SMTP server on 127.0.0.1:PORT (host, port attributes).

    user/password: AUTH PLAIN and LOGIN are offered and required; a wrong login is answered 535
    and recorded in auth_failures (login, mechanism). AUTH is allowed without TLS.
    starttls: STARTTLS is offered (and required when require_tls) with cert (make_cert()).
    implicit_tls: the whole session is TLS (SMTPS) with cert."""

    def __init__(self, user=None, password=None, starttls=False, require_tls=False,
                 implicit_tls=False, cert=None, max_messages=10_000, data_size_limit=MAX_BODY):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        if (starttls or implicit_tls) and not cert:
            raise ValueError("starttls / implicit_tls need cert=(cert_path, key_path)")
        self.max_messages = max_messages
        self.user, self.password = user, password
        self._cond = threading.Condition()
        self._mails = []
        self._script = deque()
        self.overflow = 0
        self.auth_failures = []
        self.auth_successes = []
        fake = self

        def authenticator(server, session, envelope, mechanism, auth_data):
            login = getattr(auth_data, "login", b"")
            pw = getattr(auth_data, "password", b"")
            login = login.decode("utf-8", "replace") if isinstance(login, bytes) else login
            pw = pw.decode("utf-8", "replace") if isinstance(pw, bytes) else pw
            ok = login == fake.user and pw == fake.password
            with fake._cond:
                (fake.auth_successes if ok else fake.auth_failures).append((login, mechanism))
                fake._cond.notify_all()
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        kw = {"data_size_limit": data_size_limit, "ident": "tocsin fake SMTP"}
        if user is not None:
            # AUTH is allowed before STARTTLS (auth_require_tls=False), set after the session
            # is made: aiosmtpd warns about it on every connection otherwise
            kw.update(authenticator=authenticator, auth_required=True)
        if starttls:
            kw.update(tls_context=_server_ctx(cert), require_starttls=require_tls)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.host = "127.0.0.1"
        self.port = sock.getsockname()[1]
        self.implicit_tls = implicit_tls

        class BoundController(Controller):
            def factory(self):
                smtpd = super().factory()
                smtpd._auth_require_tls = False
                return smtpd

            def _create_server(self):
                return self.loop.create_server(self._factory_invoker, sock=sock,
                                               ssl=self.ssl_context)

        self._controller = BoundController(
            _SMTPHandler(self), hostname=self.host, port=self.port,
            ssl_context=_server_ctx(cert) if implicit_tls else None, **kw)
        try:
            self._controller.start()
        except BaseException:
            sock.close()
            raise
        self.url = f"{'smtps' if implicit_tls else 'smtp'}://{self.host}:{self.port}"

    def fail_next(self, n=1, reply="451 4.3.0 Temporary failure, try again"):
        """The next n messages are recorded and answered reply (e.g. "554 5.0.0 rejected")."""
        with self._cond:
            self._script.extend([reply] * n)

    @property
    def messages(self):
        with self._cond:
            return list(self._mails)

    def clear(self):
        with self._cond:
            self._mails.clear()
            self.auth_failures.clear()
            self.auth_successes.clear()

    def wait_for(self, count, timeout=DEFAULT_TIMEOUT):
        """Blocks until count messages have been recorded; returns them (FakeError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._mails) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FakeError(f"timed out after {timeout}s waiting for {count} message(s) "
                                    f"at {self.url}: got {len(self._mails)}; auth failures "
                                    f"{self.auth_failures}")
                self._cond.wait(left)
            return list(self._mails)

    def wait_auth_failure(self, count=1, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.auth_failures) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FakeError(f"timed out after {timeout}s waiting for {count} AUTH "
                                    f"failure(s) at {self.url}")
                self._cond.wait(left)
            return list(self.auth_failures)

    def stop(self):
        if self._controller is not None:
            self._controller.stop(no_assert=True)
            self._controller = None

    close = stop

    def __repr__(self):
        return f"<FakeSMTP {self.url}>"


# ----------------------------------------------------------------------------------------------
# Fixtures

@pytest.fixture(scope="session")
def tls_cert():
    """(cert_path, key_path) of a self-signed certificate for 127.0.0.1 and localhost; the test
    is skipped when the openssl CLI is not installed."""
    d = tempfile.mkdtemp(prefix="tocsin-fake-cert.")
    try:
        cert = make_cert(d)
        if cert is None:
            pytest.skip("openssl CLI not installed: no TLS fakes")
        yield cert
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fake_http_factory():
    made = []

    def make(**kw):
        f = FakeHTTP(**kw)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


@pytest.fixture
def fake_http(fake_http_factory):
    return fake_http_factory()


@pytest.fixture
def fake_smtp_factory():
    pytest.importorskip("aiosmtpd", reason="python3-aiosmtpd not installed")
    made = []

    def make(**kw):
        f = FakeSMTP(**kw)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


@pytest.fixture
def fake_smtp(fake_smtp_factory):
    return fake_smtp_factory()
