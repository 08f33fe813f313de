"""STARTTLS and SMTP AUTH on the listener, STARTTLS with certificate checks to the next hop."""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import ssl
import subprocess

import argon2
import pytest

from .conftest import STAFF
from .relay_env import GatewayProcess, Sink

COLLEAGUE = "colleague@heartofengland.example"
PASSWORD = "correct horse battery staple"


def _cert(folder, name: str):
    if not shutil.which("openssl"):
        if os.environ.get("CHAPERONE_REQUIRE_TOOLS"):
            pytest.fail("openssl is not installed")
        pytest.skip("openssl is not installed")
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("certs")
    return {"a": _cert(folder, "a"), "b": _cert(folder, "b")}


def _message(subject: str) -> bytes:
    return (
        f"From: {STAFF}\r\nTo: {COLLEAGUE}\r\nSubject: {subject}\r\n\r\nMinutes attached.\r\n"
    ).encode()


def test_a_server_outside_the_trusted_networks_must_starttls_and_authenticate(certs, tmp_path):
    cert, key = certs["a"]
    users = tmp_path / "smtp-users.toml"
    users.write_text(f'[users]\nexchange-online = "{argon2.PasswordHasher().hash(PASSWORD)}"\n')
    sink = Sink().start()
    g = GatewayProcess(
        tmp_path,
        sink,
        trusted=(),
        extra_relay=(f'tls_certificate = "{cert}"\ntls_key = "{key}"\nauth_users = "{users}"'),
    ).start()
    try:
        with g.smtp() as client:
            assert client.has_extn("starttls") and not client.has_extn(
                "auth"
            )  # no AUTH in clear text
            code, text = client.mail(STAFF)
            assert code == 530 and b"5.7.0" in text
        context = ssl.create_default_context(cafile=str(cert))
        with g.smtp() as client:
            client.starttls(context=context)
            client.ehlo("upstream.test")
            assert "PLAIN" in client.esmtp_features["auth"]
            with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
                client.login("exchange-online", "wrong password")
            assert refused.value.smtp_code == 535
        with g.smtp() as client:
            client.starttls(context=context)
            client.ehlo("upstream.test")
            client.login("exchange-online", PASSWORD)
            assert client.sendmail(STAFF, [COLLEAGUE], _message("tls-auth-1")) == {}
        assert sink.wait_for_text(COLLEAGUE, b"tls-auth-1")
        assert PASSWORD not in g.log()
    finally:
        g.stop()
        sink.stop()


def test_require_tls_refuses_mail_before_starttls(certs, tmp_path):
    cert, key = certs["a"]
    sink = Sink().start()
    g = GatewayProcess(
        tmp_path,
        sink,
        extra_relay=f'tls_certificate = "{cert}"\ntls_key = "{key}"\nrequire_tls = true',
    ).start()
    try:
        with g.smtp() as client:
            assert client.mail(STAFF)[0] == 530
            client.starttls(context=ssl.create_default_context(cafile=str(cert)))
            client.ehlo("upstream.test")
            assert client.sendmail(STAFF, [COLLEAGUE], _message("tls-required")) == {}
    finally:
        g.stop()
        sink.stop()


@pytest.mark.parametrize(("trusted_ca", "delivered"), [("a", True), ("b", False)])
def test_next_hop_starttls_checks_its_certificate(certs, tmp_path, trusted_ca, delivered):
    cert, key = certs["a"]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = Sink(tls_context=context).start()
    ca = certs[trusted_ca][0]
    g = GatewayProcess(tmp_path, sink, extra_next_hop=f'starttls = true\nca_file = "{ca}"').start()
    try:
        with g.smtp() as client:
            if delivered:
                assert client.sendmail(STAFF, [COLLEAGUE], _message("hop-tls")) == {}
                assert sink.wait_for(COLLEAGUE)
            else:
                # A certificate the gateway cannot verify: nothing is sent in
                # clear text instead; the client keeps the message and retries.
                with pytest.raises(smtplib.SMTPDataError) as deferred:
                    client.sendmail(STAFF, [COLLEAGUE], _message("hop-tls"))
                assert deferred.value.smtp_code == 451
                assert sink.to(COLLEAGUE) == []
    finally:
        g.stop()
        sink.stop()


def _auth_gateway(certs, tmp_path, sink, **kwargs):
    cert, key = certs["a"]
    users = tmp_path / "smtp-users.toml"
    users.write_text(f'[users]\nexchange-online = "{argon2.PasswordHasher().hash(PASSWORD)}"\n')
    extra = kwargs.pop("extra_relay", "")
    return GatewayProcess(
        tmp_path,
        sink,
        extra_relay=(
            f'tls_certificate = "{cert}"\ntls_key = "{key}"\nauth_users = "{users}"\n{extra}'
        ),
        **kwargs,
    ).start()


@pytest.fixture
def sockets():
    """Sockets a test leaves open on purpose, closed after it."""
    opened: list[socket.socket] = []
    yield opened
    for s in opened:
        s.close()


def _greeting(sockets: list[socket.socket], port: int, source: str) -> bytes:
    s = socket.socket()
    sockets.append(s)
    s.settimeout(10)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s.makefile("rb").readline()


def test_idle_untrusted_connections_cannot_lock_out_the_trusted_mail_server(
    certs, tmp_path, sockets
):
    sink = Sink().start()
    g = _auth_gateway(
        certs,
        tmp_path,
        sink,
        max_connections=8,
        extra_relay="max_connections_per_address = 2",
    )
    try:
        # Per address: two from 127.0.0.2, the third is turned away.
        assert _greeting(sockets, g.port, "127.0.0.2").startswith(b"220")
        assert _greeting(sockets, g.port, "127.0.0.2").startswith(b"220")
        assert _greeting(sockets, g.port, "127.0.0.2").startswith(b"421 4.7.0")
        # All untrusted addresses together: half of max_connections (4).
        assert _greeting(sockets, g.port, "127.0.0.3").startswith(b"220")
        assert _greeting(sockets, g.port, "127.0.0.3").startswith(b"220")
        assert _greeting(sockets, g.port, "127.0.0.4").startswith(b"421 4.7.0")
        # The rest is kept for the trusted server, which still gets mail through.
        with g.smtp("127.0.0.1") as client:
            assert client.sendmail(STAFF, [COLLEAGUE], _message("reserved")) == {}
        assert sink.wait_for_text(COLLEAGUE, b"reserved")
    finally:
        g.stop()
        sink.stop()


def test_an_untrusted_client_that_does_not_log_in_is_cut_off_early(certs, tmp_path, sockets):
    sink = Sink().start()
    g = _auth_gateway(
        certs, tmp_path, sink, trusted=(), extra_relay="timeout_before_auth_seconds = 0.5"
    )
    try:
        s = socket.socket()
        sockets.append(s)
        s.settimeout(60)  # far below timeout_seconds (300): the short timeout closes it
        s.connect(("127.0.0.1", g.port))
        replies = s.makefile("rb")
        assert replies.readline().startswith(b"220")
        s.sendall(b"EHLO upstream.test\r\n")
        while replies.readline().startswith(b"250-"):
            pass
        assert replies.readline() == b""  # the gateway closed the silent connection
    finally:
        g.stop()
        sink.stop()


def test_failed_logins_lock_out_the_user_across_sessions_and_addresses(certs, tmp_path):
    sink = Sink().start()
    g = _auth_gateway(certs, tmp_path, sink, trusted=())
    context = ssl.create_default_context(cafile=str(certs["a"][0]))

    def login(password: str, source: str = "127.0.0.2") -> int:
        with g.smtp(source) as client:
            client.starttls(context=context)
            client.ehlo("upstream.test")
            client.user, client.password = "exchange-online", password
            try:  # one AUTH PLAIN (login() would try LOGIN after it too)
                client.auth("PLAIN", client.auth_plain)
            except smtplib.SMTPAuthenticationError as refused:
                return refused.smtp_code
            return 235

    try:
        assert [login(f"guess {n}") for n in range(5)] == [535] * 5
        # Locked out: even the right password is refused, temporarily, from
        # this address and, for this user, from any other.
        assert login(PASSWORD) == 454
        assert login(PASSWORD, "127.0.0.3") == 454
        assert "locked out" in g.log() and PASSWORD not in g.log()
    finally:
        g.stop()
        sink.stop()
