"""STARTTLS and SMTP AUTH on the listener, STARTTLS with certificate checks to the next hop."""

from __future__ import annotations

import os
import shutil
import smtplib
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
