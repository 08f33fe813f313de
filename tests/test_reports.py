"""Delivery reports and read receipts from the school's mail server.

A bounce from Postfix to an outside sender quotes the failed address and asks
for "mail to postmaster": that is the mail system's text, not staff writing.
The addresses the report is about are the failed recipients'; anything else in
it is read like any other text, so a forged report hides nothing.
"""

from __future__ import annotations

import email
import re

import pytest

from .conftest import PARENT, STAFF
from .relay_env import GatewayProcess, Sink

FAILED = "jsmith1987@gmail.com"


def report(
    *,
    failed: str = FAILED,
    notice: str = "For further assistance, please send mail to postmaster.",
    diagnostic: str = "host gmail-smtp-in.l.google.com said: 550 5.1.1 no such user",
    returned: str = "message/rfc822",
    kind: str = "delivery-status",
) -> bytes:
    """Postfix's bounce to a parent whose mail to ``failed`` could not be delivered."""
    returned_part = (
        "From: Parent One <parent.one@gmail.com>\n"
        f"To: {failed}\n"
        "Cc: parent.one.home@yahoo.co.uk\n"
        "Subject: Sam's absence\n"
    )
    if returned == "message/rfc822":
        returned_part += "\nSam is off sick today. Reach me on 07700 900123 if needed.\n"
    text = f"""\
From: MAILER-DAEMON@mail.heartofengland.example (Mail Delivery System)
To: {PARENT}
Subject: Undelivered Mail Returned to Sender
Date: Wed, 2 Dec 2026 10:01:02 +0000
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type={kind}; boundary="B1"

--B1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.heartofengland.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

{notice}

                   The mail system

<{failed}>: {diagnostic}

--B1
Content-Description: Delivery report
Content-Type: message/{kind}

Reporting-MTA: dns; mail.heartofengland.example
X-Postfix-Sender: rfc822; {PARENT}

Final-Recipient: rfc822; {failed}
Original-Recipient: rfc822;{failed}
Action: failed
Status: 5.1.1
Diagnostic-Code: X-Postfix; {diagnostic}

--B1
Content-Description: Undelivered Message
Content-Type: {returned}

{returned_part}
--B1--
"""
    return text.encode()


def held_categories(scanner, raw: bytes, mail_from: str = "") -> set[str]:
    result = scanner.scan(raw, mail_from=mail_from, rcpts=[PARENT])
    assert result.error is None and not result.unread, (result.error, result.unread)
    return {f.category for f in result.findings if PARENT in f.copies}


def test_a_bounce_from_the_mail_system_to_a_parent_passes(scanner):
    assert held_categories(scanner, report()) == set()
    assert held_categories(scanner, report(returned="text/rfc822-headers")) == set()


def test_a_read_receipt_names_its_recipient_without_disclosing_it(scanner):
    assert held_categories(scanner, report(kind="disposition-notification")) == set()


def test_the_same_report_from_a_member_of_staff_is_read_strictly(scanner):
    # Only the null sender's report speaks for the mail system: a copy of it sent
    # by staff names a personal address like any other letter.
    assert "personal_email" in held_categories(scanner, report(), mail_from=STAFF)


def test_a_report_is_no_cover_for_other_details(scanner):
    notice = "Or just text me on 07700 900999 and I'll sort it."
    assert "personal_phone" in held_categories(scanner, report(notice=notice))
    hidden = report(diagnostic="550 user unknown, ring 07700 900999 instead")
    assert "personal_phone" in held_categories(scanner, hidden)


def test_every_field_of_the_status_part_is_read(scanner):
    # The parser splits message/delivery-status into header blocks; each is text.
    raw = report(notice="", diagnostic="550 gone, try tom.teacher.home@gmail.com")
    # only the second block of the status part says it, not the notice
    raw = raw.replace(b"<jsmith1987@gmail.com>: 550 gone, try tom.teacher.home@gmail.com", b"")
    assert raw.count(b"tom.teacher.home") == 1
    result = scanner.scan(raw, mail_from="", rcpts=[PARENT])
    assert [f.value for f in result.findings] == ["tom.teacher.home@gmail.com"]


@pytest.fixture
def gateway(tmp_path):
    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink, sender_domains=("heartofengland.example",)).start()
    yield g, sink
    g.stop()
    sink.stop()


def test_the_mail_servers_bounce_is_relayed_to_the_parent(gateway):
    g, sink = gateway
    raw = re.sub(rb"\r?\n", b"\r\n", report())
    with g.smtp() as client:
        client.sendmail("", [PARENT], raw)
    delivered = sink.wait_for(PARENT)
    assert email.message_from_bytes(delivered[0].data)["Subject"].startswith("Undelivered")
    assert g.copies("held") == []
