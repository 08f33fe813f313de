"""Through the relay: raw UTF-8 headers as sent, and the part that could not be read named to the sender."""

from __future__ import annotations

import email
import email.policy

import pytest

from .conftest import PARENT, STAFF
from .relay_env import GatewayProcess, Sink


@pytest.fixture(scope="module")
def sink():
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def gateway(sink, tmp_path_factory):
    g = GatewayProcess(tmp_path_factory.mktemp("gw"), sink).start()
    yield g
    g.stop()


def _text_of(data: bytes) -> str:
    return (
        email.message_from_bytes(data, policy=email.policy.default)
        .get_body(("plain",))
        .get_content()
    )


def test_an_smtputf8_subject_is_held_and_shown_as_sent(gateway, sink):
    raw = (
        f"From: {STAFF}\r\nTo: {PARENT}\r\nSubject: Café – mobile 07700–900456\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nSee the subject.\r\n"
    ).encode()
    with gateway.smtp() as client:
        client.sendmail(STAFF, [PARENT], raw, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [held] = [c for c in gateway.copies("held") if c["subject"].startswith("Café")]
    assert held["subject"] == "Café – mobile 07700–900456"  # not "Caf��"
    assert held["findings"][0]["category"] == "personal_phone"
    notice = sink.wait_for_text(STAFF, b"Held for review")[0]
    subject = email.message_from_bytes(notice.data, policy=email.policy.default)["Subject"]
    assert subject == "Held for review: Café – mobile 07700–900456"


def test_a_part_that_cannot_be_read_is_named_to_the_sender(gateway, sink):
    raw = (
        f"From: {STAFF}\r\nTo: {PARENT}\r\nSubject: unread-1\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe letter is attached.\r\n"
        "--b\r\nContent-Type: application/vnd.oasis.opendocument.text\r\n"
        'Content-Disposition: attachment; filename="letter.odt"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        "UEsDBBQAAAAIAA==\r\n--b--\r\n"
    ).encode()
    with gateway.smtp() as client:
        client.sendmail(STAFF, [PARENT], raw)
    [held] = [c for c in gateway.copies("held") if c["subject"] == "unread-1"]
    assert "could not read attachment:letter.odt" in held["reason"]
    assert not any(b"unread-1" in m.data for m in sink.to(PARENT))
    text = _text_of(sink.wait_for_text(STAFF, b"Held for review: unread-1")[0].data)
    assert "attachment:letter.odt" in text
