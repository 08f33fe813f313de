"""A held copy as a reviewer sees it, built once for the CLI and the web app alike.

``held_copy`` gathers what a reviewer needs to decide: the copy and its
message, each finding with its rule's policy clause, the headers as sent,
the text part by part as the scanner read it, and the attachments. The CLI
prints it (``gateway quarantine show``); the web app renders it with the
evidence marked and HTML made harmless (``gateway.web``).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass

from gateway.config import Config
from gateway.mail import header_block_end, printable
from gateway.read.charsets import decode_text
from gateway.read.message import Author, read_message
from gateway.store import CopyRecord, MessageRecord, StoredFinding


@dataclass(frozen=True, slots=True)
class ShownFinding:
    finding: StoredFinding
    clause: str  # the policy clause its rule quotes ("" if the rule is gone)

    @property
    def where(self) -> str:
        f = self.finding
        return f"{f.part}, {f.zone}{' (quoted)' if f.quoted else ''}"

    @property
    def marked_context(self) -> str:
        """The context with the evidence in [[double brackets]], for plain text."""
        f = self.finding
        return (
            f.context.replace(f.evidence, f"[[{f.evidence}]]", 1)
            if f.evidence in f.context
            else f.context
        )


@dataclass(frozen=True, slots=True)
class TextPart:
    part: str  # subject | body | html | attachment:NAME | header:NAME ...
    text: str


@dataclass(frozen=True, slots=True)
class Attachment:
    index: int
    name: str
    type: str
    size: int


@dataclass(frozen=True, slots=True)
class HeldCopy:
    copy: CopyRecord
    message: MessageRecord
    findings: tuple[ShownFinding, ...]
    headers: tuple[str, ...]  # the header lines as sent, control characters made visible as spaces
    text: tuple[TextPart, ...]  # what the scanner read; empty when it could not read the message
    unreadable: str  # why the text could not be read, or ""
    attachments: tuple[Attachment, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        out = []
        if self.copy.possible_duplicate:
            out.append(
                "possible duplicate: an earlier delivery attempt sent the message and got no "
                "answer, so the recipient may get this copy twice"
            )
        if self.message.scan_error:
            out.append(f"held unscanned: {self.message.scan_error}")
        return tuple(out)


def clause_of(config: Config, rule_id: str) -> str:
    rule = config.rules.get(rule_id)
    return rule.clause if rule else ""


def header_lines(raw: bytes, limit: int = 60) -> tuple[str, ...]:
    head = raw[: min(header_block_end(raw), 64 * 1024)]
    return tuple(printable(line) for line in head.decode("utf-8", "replace").splitlines()[:limit])


def readable_text(
    raw: bytes, is_colleague: Callable[[Author], bool]
) -> tuple[tuple[TextPart, ...], str]:
    """The message's text part by part, as the scanner reads it; or why it cannot be read."""
    try:
        view = read_message(raw, is_colleague)
    except Exception as exc:  # noqa: BLE001 - an unreadable message is shown as such
        return (
            (),
            f"the message cannot be read as text ({type(exc).__name__}); it is held for that reason",
        )
    return tuple(TextPart(seg.part, seg.text.text) for seg in view.segments if not seg.is_link), ""


def html_parts(raw: bytes) -> list[str]:
    """The HTML bodies (not attachments), decoded, unsanitised: the web app cleans them."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for part in msg.walk():
        if part.get_content_type() == "text/html" and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            out.append(
                decode_text(
                    payload if isinstance(payload, bytes) else b"", part.get_content_charset()
                )
            )
    return out


def attachments(raw: bytes) -> list[tuple[Attachment, bytes]]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for index, part in enumerate(msg.walk()):
        if part.is_multipart():
            continue
        name = part.get_filename()
        if not name and part.get_content_maintype() in ("text", "multipart"):
            continue
        decoded = part.get_payload(decode=True)
        payload = decoded if isinstance(decoded, bytes) else b""
        out.append(
            (
                Attachment(
                    index, str(name or f"part-{index}"), part.get_content_type(), len(payload)
                ),
                payload,
            )
        )
    return out


def held_copy(config: Config, copy: CopyRecord, message: MessageRecord) -> HeldCopy:
    text, unreadable = readable_text(message.raw, config.directory.is_colleague)
    return HeldCopy(
        copy=copy,
        message=message,
        findings=tuple(ShownFinding(f, clause_of(config, f.rule)) for f in copy.findings),
        headers=header_lines(message.raw),
        text=text,
        unreadable=unreadable,
        attachments=tuple(a for a, _ in attachments(message.raw)),
    )
