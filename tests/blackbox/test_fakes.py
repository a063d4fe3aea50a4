"""The fake services themselves work: the notification tests rely on what they record and on how
they misbehave when told to. No tocsin daemon here."""

import smtplib
import socket
import ssl
import threading
import time
from email.message import EmailMessage

import pytest
import requests

from fakes import (FakeError, Response, fake_http, fake_http_factory,  # noqa: F401
                   fake_smtp, fake_smtp_factory, tls_cert)


def post(url, **kw):
    kw.setdefault("timeout", 10)
    return requests.post(url, **kw)


# ---- HTTP -------------------------------------------------------------------------------------

def test_http_records_requests(fake_http):
    r = post(fake_http.url + "/hook?a=1&b=x", json={"alert": {"id": "a1"}},
             headers={"X-Tocsin-Notification": "k1", "Authorization": "Bearer t"})
    assert (r.status_code, r.text) == (200, "ok")
    r = requests.put(fake_http.url + "/other", data=b"\x00raw", timeout=10)
    assert r.status_code == 200
    reqs = fake_http.wait_for(2)
    first, second = reqs
    assert (first.method, first.path, first.target) == ("POST", "/hook", "/hook?a=1&b=x")
    assert first.query == {"a": ["1"], "b": ["x"]}
    assert first.headers["x-tocsin-notification"] == "k1"  # case-insensitive
    assert first.headers["AUTHORIZATION"] == "Bearer t"
    assert first.json == {"alert": {"id": "a1"}}
    assert first.status == 200 and not first.tls
    assert (second.method, second.body, second.json) == ("PUT", b"\x00raw", None)
    assert [r.path for r in fake_http.requests_for("/hook")] == ["/hook"]
    assert first.time <= second.time


def test_http_keep_alive(fake_http):
    with requests.Session() as s:
        for i in range(5):
            assert s.post(fake_http.url + "/k", json={"i": i}, timeout=10).status_code == 200
    reqs = fake_http.wait_for(5)
    assert len({r.peer for r in reqs}) == 1, "five requests on one connection"
    assert [r.json["i"] for r in reqs] == list(range(5))


def test_http_chunked_body(fake_http):
    def gen():
        yield b'{"a":'
        yield b"1}"
    assert post(fake_http.url + "/c", data=gen()).status_code == 200
    (req,) = fake_http.wait_for(1)
    assert req.json == {"a": 1}


def test_http_fail_next_then_default(fake_http):
    fake_http.fail_next(2, 503)
    codes = [post(fake_http.url + "/x", data="b").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert [r.status for r in fake_http.wait_for(3)] == [503, 503, 200]


def test_http_scripts_per_path_prefix(fake_http):
    fake_http.answer(201, Response(400, {"error": "bad"}), path="/api/")
    fake_http.answer(path="/api/v2", default=202)
    assert post(fake_http.url + "/hook", data="x").status_code == 200
    assert post(fake_http.url + "/api/v2/a", data="x").status_code == 201  # /api/ queue first
    r = post(fake_http.url + "/api/v1", data="x")
    assert r.status_code == 400 and r.json() == {"error": "bad"}
    assert post(fake_http.url + "/api/v2/b", data="x").status_code == 202
    assert post(fake_http.url + "/api/v1", data="x").status_code == 200
    fake_http.reset()
    assert post(fake_http.url + "/api/v2/b", data="x").status_code == 200


def test_http_429_sequence(fake_http):
    fake_http.answer_429(retry_after=2, n=2)
    fake_http.answer_429(retry_after=None, n=1)
    answers = [post(fake_http.url + "/hook", data="x") for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 429, 429, 200]
    assert [r.headers.get("Retry-After") for r in answers] == ["2", "2", None, None]


def test_http_slow(fake_http):
    fake_http.slow(0.3, n=1)
    t0 = time.monotonic()
    assert post(fake_http.url + "/s", data="x").status_code == 200
    assert time.monotonic() - t0 >= 0.3
    with pytest.raises(requests.Timeout):
        fake_http.slow(5)
        post(fake_http.url + "/s", data="x", timeout=0.3)
    fake_http.reset()
    t0 = time.monotonic()
    assert post(fake_http.url + "/s", data="x").status_code == 200
    assert time.monotonic() - t0 < 2


def test_http_drop(fake_http):
    fake_http.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        post(fake_http.url + "/d", data="x")
    assert post(fake_http.url + "/d", data="x").status_code == 200
    assert len(fake_http.wait_for(2)) == 2


def test_http_down_then_up_on_the_same_port(fake_http):
    port = fake_http.port
    s = requests.Session()
    assert s.post(fake_http.url + "/h", data="1", timeout=10).status_code == 200
    fake_http.down()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(requests.ConnectionError):  # the kept-alive connection was cut too
        s.post(fake_http.url + "/h", data="2", timeout=5)
    fake_http.up()
    assert fake_http.port == port
    assert s.post(fake_http.url + "/h", data="3", timeout=10).status_code == 200
    assert [r.body for r in fake_http.wait_for(2)] == [b"1", b"3"]
    s.close()


def test_http_down_cuts_a_slow_answer(fake_http):
    fake_http.slow(30)
    errors = []

    def client():
        try:
            post(fake_http.url + "/slow", data="x")
        except requests.RequestException as e:
            errors.append(e)
    t = threading.Thread(target=client)
    t.start()
    fake_http.wait_for(1)
    t0 = time.monotonic()
    fake_http.down()
    t.join(10)
    assert not t.is_alive() and errors and time.monotonic() - t0 < 5


def test_http_wait_for_times_out(fake_http):
    t0 = time.monotonic()
    with pytest.raises(FakeError, match="waiting for 1 request"):
        fake_http.wait_for(1, timeout=0.2)
    assert time.monotonic() - t0 < 2


def test_http_bounds(fake_http_factory):
    f = fake_http_factory(max_body=10, max_requests=2)
    assert post(f.url + "/b", data=b"x" * 11).status_code == 413
    for _ in range(3):
        assert post(f.url + "/b", data=b"x").status_code == 200
    assert len(f.requests) == 2 and f.overflow == 1


def test_https(fake_http_factory, tls_cert):
    f = fake_http_factory(tls=tls_cert)
    assert f.url.startswith("https://127.0.0.1:")
    assert post(f.url + "/secure", json={"a": 1}, verify=tls_cert[0]).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        post(f.url + "/secure", json={"a": 1})  # not trusted by the system's CAs
    (req,) = f.wait_for(1)
    assert req.tls and req.json == {"a": 1}


# ---- SMTP -------------------------------------------------------------------------------------

def message(html=True):
    m = EmailMessage()
    m["From"] = "tocsin@example.test"
    m["To"] = "ops@example.test"
    m["Subject"] = "[FIRING] HighCPU on web-1 — état critique"
    m.set_content("CPU is at 99%\n")
    if html:
        m.add_alternative("<p>CPU is at <b>99%</b></p>", subtype="html")
    return m


def test_smtp_plain(fake_smtp):
    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=10) as c:
        c.send_message(message(), to_addrs=["ops@example.test", "oncall@example.test"])
    (m,) = fake_smtp.wait_for(1)
    assert m.mail_from == "tocsin@example.test"
    assert m.rcpt_tos == ["ops@example.test", "oncall@example.test"]
    assert m.subject == "[FIRING] HighCPU on web-1 — état critique"
    assert m.headers["to"] == "ops@example.test"
    assert m.text == "CPU is at 99%\n"
    assert m.html.strip() == "<p>CPU is at <b>99%</b></p>"
    assert m.login is None and not m.tls


def test_smtp_text_only_and_temporary_failure(fake_smtp):
    fake_smtp.fail_next(1)
    with smtplib.SMTP(fake_smtp.host, fake_smtp.port, timeout=10) as c:
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.send_message(message(html=False))
        assert e.value.smtp_code == 451
        c.send_message(message(html=False))
    first, second = fake_smtp.wait_for(2)
    assert first.answer.startswith("451") and second.answer.startswith("250")
    assert second.html is None and second.text == "CPU is at 99%\n"


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_smtp_auth(fake_smtp_factory, mech):
    f = fake_smtp_factory(user="bot", password="s3cret")
    with smtplib.SMTP(f.host, f.port, timeout=10) as c:
        c.ehlo()
        assert mech in c.esmtp_features.get("auth", "")
        with pytest.raises(smtplib.SMTPSenderRefused):
            c.send_message(message())  # AUTH is required
        c.user, c.password = "bot", "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.auth(mech, getattr(c, "auth_" + mech.lower()), initial_response_ok=True)
        c.user, c.password = "bot", "s3cret"
        c.auth(mech, getattr(c, "auth_" + mech.lower()), initial_response_ok=True)
        c.send_message(message())
    (m,) = f.wait_for(1)
    assert m.login == "bot"
    assert f.auth_failures == [("bot", mech)]
    assert f.auth_successes == [("bot", mech)]


def test_smtp_starttls_with_auth(fake_smtp_factory, tls_cert):
    f = fake_smtp_factory(user="bot", password="s3cret", starttls=True, require_tls=True,
                          cert=tls_cert)
    ctx = ssl.create_default_context(cafile=tls_cert[0])
    with smtplib.SMTP(f.host, f.port, timeout=10) as c:
        c.ehlo()
        assert c.has_extn("starttls")
        with pytest.raises(smtplib.SMTPException):
            c.login("bot", "s3cret")  # require_tls: nothing before STARTTLS
        c.starttls(context=ctx)
        c.login("bot", "s3cret")
        c.send_message(message())
    (m,) = f.wait_for(1)
    assert m.tls and m.login == "bot"


def test_smtps(fake_smtp_factory, tls_cert):
    f = fake_smtp_factory(implicit_tls=True, cert=tls_cert)
    assert f.url.startswith("smtps://")
    ctx = ssl.create_default_context(cafile=tls_cert[0])
    with smtplib.SMTP_SSL(f.host, f.port, timeout=10, context=ctx) as c:
        c.send_message(message())
    (m,) = f.wait_for(1)
    assert m.tls


def test_smtp_wait_for_times_out(fake_smtp):
    with pytest.raises(FakeError, match="waiting for 1 message"):
        fake_smtp.wait_for(1, timeout=0.2)
