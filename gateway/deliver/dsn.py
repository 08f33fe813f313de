"""What the gateway itself writes into mail: the trace header and delivery status notices.

Every value that came from a client (HELO name, addresses, the next hop's
reply) is stripped of CR, LF and other control characters before it goes
into a header, so nothing a client sends can add a header line.
"""

from __future__ import annotations

import email.utils
import secrets
from datetime import datetime

from gateway.mail import header_block_end, printable


def _safe(text: str, limit: int = 200) -> str:
    # Parentheses and angle brackets would end a comment or an address in the report's fields.
    return "".join(ch for ch in printable(text) if ch not in "()<>")[:limit]


def received_header(
    helo: str, client_address: str, hostname: str, queue_id: str, at: datetime
) -> bytes:
    """One RFC 5321 trace line, prepended; nothing that DKIM signs is touched."""
    line = (
        f"Received: from {_safe(helo) or 'unknown'} ({_safe(client_address, 60)})\r\n"
        f"\tby {_safe(hostname)} (Chaperone) with ESMTP id {_safe(queue_id, 40)};\r\n"
        f"\t{email.utils.format_datetime(at)}\r\n"
    )
    return line.encode("ascii", "replace")


def release_header(hostname: str, queue_id: str, at: datetime) -> bytes:
    """The trace line on a copy a reviewer released (who and why stay in the audit table)."""
    line = (
        f"Received: from quarantine by {_safe(hostname)} (Chaperone) with ESMTP id {_safe(queue_id, 40)}\r\n"
        f"\t(released after review); {email.utils.format_datetime(at)}\r\n"
    )
    return line.encode("ascii", "replace")


NEXT_HOP_REFUSED = (
    "Your message could not be delivered to these recipients: the receiving",
    "server refused it permanently. The other recipients were not affected.",
)
POLICY_REFUSED = (
    "Your message was not delivered to these recipients: it breaks a rule of",
    "the school's communications policy that refuses such mail outright.",
    "The other recipients were not affected.",
)


def build_dsn(
    *,
    hostname: str,
    sender: str,
    queue_id: str,
    failed: dict[str, str],
    original_headers: bytes,
    at: datetime,
    why: tuple[str, ...] = NEXT_HOP_REFUSED,
) -> bytes:
    """An RFC 3464 report to the sender: these recipients will not receive the message."""
    host = _safe(hostname)
    boundary = f"=_chaperone_{secrets.token_hex(8)}"
    date = email.utils.format_datetime(at)
    human = [f"This is the mail system at {host} (Chaperone).", "", *why, ""]
    human += [f"  <{_safe(r, 320)}>: {_safe(reply, 400)}" for r, reply in failed.items()]
    status = [
        f"Reporting-MTA: dns; {host}",
        f"X-Chaperone-Queue-ID: {_safe(queue_id, 40)}",
        f"Arrival-Date: {date}",
    ]
    for rcpt, reply in failed.items():
        parts = reply.split(" ", 2)
        enhanced = parts[1] if len(parts) > 1 and parts[1][:2] == "5." else "5.0.0"
        status += [
            "",
            f"Final-Recipient: rfc822; {_safe(rcpt, 320)}",
            "Action: failed",
            f"Status: {_safe(enhanced, 12)}",
            f"Diagnostic-Code: smtp; {_safe(reply, 400)}",
        ]
    # The original headers only, never the body (RFC 3462 text/rfc822-headers).
    head = original_headers[: header_block_end(original_headers)][:65536]
    head = head.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    out = [
        f"From: Mail Delivery System <MAILER-DAEMON@{host}>",
        f"To: <{_safe(sender, 320)}>",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {date}",
        f"Message-ID: <{secrets.token_hex(12)}.dsn@{host}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        *human,
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        *status,
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
    ]
    text = "\r\n".join(out).encode("ascii", "replace") + b"\r\n"
    return text + head + f"\r\n\r\n--{boundary}--\r\n".encode("ascii")
