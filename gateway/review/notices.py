"""Notices to senders and reviewers: built from templates, queued in the store, delivered by the outbox.

Templates are plain text with ``$names`` (``string.Template``, so a template
cannot run code); each notice goes out as text and as escaped HTML. Values
that came from the message (its subject, names, evidence) are stripped of
control characters before they reach a header, and headers are written by
``email.message.EmailMessage`` under the strict SMTP policy, which refuses
a header value with a line break: a subject cannot add a header.
"""

from __future__ import annotations

import email.utils
import html
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP

from gateway.config import Config, NoticeSettings
from gateway.mail import CopyStatus, RecipientClass, printable
from gateway.store import Envelope, NewCopy


def one_line(text: str, limit: int = 200) -> str:
    """Printable, single-line, bounded: safe for a header or a template slot on one line."""
    flat = " ".join(printable(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Notice:
    """A message the gateway itself sends, ready for Store.accept."""

    envelope: Envelope
    raw: bytes
    copies: tuple[NewCopy, ...]
    subject: str


def render(template: str, **values: str) -> str:
    return string.Template(template).safe_substitute({k: v for k, v in values.items()})


def render_html(template: str, **values: str) -> str:
    """An HTML template: every value is escaped before it goes in."""
    return string.Template(template).safe_substitute({k: html.escape(v) for k, v in values.items()})


def bodies(settings: NoticeSettings, name: str, **values: str) -> tuple[str, str | None]:
    """(text, html or None) for a named template."""
    html_template = settings.templates.get(name + ".html")
    return (
        render(settings.templates[name], **values),
        render_html(html_template, **values) if html_template else None,
    )


def build(
    settings: NoticeSettings,
    *,
    to: str,
    subject: str,
    body: str | tuple[str, str | None],
    at: datetime,
    hostname: str,
    recipient_class: RecipientClass,
    reason: str,
) -> Notice:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Chaperone <{settings.from_address}>"
    msg["To"] = one_line(to, 320)
    msg["Subject"] = one_line(subject, 180)
    msg["Date"] = email.utils.format_datetime(at)
    msg["Message-ID"] = f"<{secrets.token_hex(12)}.notice@{one_line(hostname, 100)}>"
    # RFC 3834: an automatic message; out-of-office replies must not answer it.
    msg["Auto-Submitted"] = "auto-generated"
    text, html_body = body if isinstance(body, tuple) else (body, None)
    msg.set_content(text)
    if html_body is None:
        paragraphs = "".join(
            f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>\n"
            for p in text.split("\n\n")
            if p.strip()
        )
        html_body = f'<!doctype html>\n<html><body style="font-family: sans-serif">\n{paragraphs}</body></html>\n'
    msg.add_alternative(html_body, subtype="html")
    raw = msg.as_bytes()
    # Envelope sender <>: a notice that cannot be delivered never bounces back.
    return Notice(
        Envelope("", (to,), (), "", hostname),
        raw,
        (NewCopy(to, recipient_class, CopyStatus.QUEUED, reason),),
        one_line(subject, 180),
    )


def _findings_text(findings: Iterable, config: Config) -> str:
    lines = []
    for f in findings:
        try:
            clause = config.rules.by_id(f.rule).clause
        except StopIteration:
            clause = ""
        where = f"{f.part}{', quoted text' if f.quoted else ''}"
        lines.append(
            f'- {f.category.replace("_", " ")} (rule {f.rule}, in the {where}): "{one_line(f.evidence, 120)}"'
        )
        if clause:
            lines.append(f"  Policy: {one_line(clause, 400)}")
    return "\n".join(lines) or "- the message could not be checked, so it was held to be safe"


def held_notices(
    config: Config,
    *,
    sender: str,
    subject: str,
    queue_id: str,
    held: dict[str, list],
    scan_error: str | None,
    at: datetime,
) -> list[Notice]:
    """To the sender and to the reviewers, once, when copies of a message are held."""
    n = config.notices
    host = config.relay.hostname
    out: list[Notice] = []
    findings = {(f.rule, f.evidence): f for fs in held.values() for f in fs}.values()
    # A part that could not be read is named beside the findings (the sender can
    # send it again in a form that can be read); a failed scan has no findings.
    findings_text = "\n".join(
        ([_findings_text(findings, config)] if findings else [])
        + ([f"- {one_line(scan_error, 300)}"] if scan_error else [])
    ) or _findings_text((), config)
    values = {
        "subject": one_line(subject, 150) or "(no subject)",
        "queue_id": queue_id,
        "held_recipients": ", ".join(sorted(held)),
        "findings": findings_text,
        "reviewers": ", ".join(n.reviewers) or "the safeguarding lead",
        "sender": sender or "<>",
        "categories": ", ".join(sorted({f.category for f in findings})) or "unscanned",
        "review_link": f"Open it at: {n.review_url}" if n.review_url else "",
    }
    if n.sender_on_hold and sender:
        out.append(
            build(
                n,
                to=sender,
                subject=f"Held for review: {values['subject']}",
                body=bodies(n, "held", **values),
                at=at,
                hostname=host,
                recipient_class=config.directory.classify(sender),
                reason="notice: held",
            )
        )
    if n.reviewers_on_hold == "each":  # "digest": the outbox's housekeeping sends a summary instead
        for reviewer in n.reviewers:
            out.append(
                build(
                    n,
                    to=reviewer,
                    subject=f"[Chaperone] held: {values['categories']} from {one_line(sender, 80)}",
                    body=bodies(n, "reviewer-held", **values),
                    at=at,
                    hostname=host,
                    recipient_class=config.directory.classify(reviewer),
                    reason="notice: reviewer",
                )
            )
    return out


def decision_notice(
    config: Config,
    *,
    decision: str,
    sender: str,
    recipient: str,
    subject: str,
    queue_id: str,
    reviewer: str,
    note: str,
    at: datetime,
) -> Notice | None:
    """To the sender when a reviewer releases or rejects a copy."""
    n = config.notices
    if not n.sender_on_decision or not sender:
        return None
    values = {
        "subject": one_line(subject, 150) or "(no subject)",
        "queue_id": queue_id,
        "recipient": recipient,
        "reviewer": one_line(reviewer, 100),
        "reviewers": ", ".join(n.reviewers) or "the safeguarding lead",
        "note": note.strip() or "The reviewer did not add a note.",
    }
    word = "Released" if decision == "released" else "Not delivered"
    return build(
        n,
        to=sender,
        subject=f"{word}: {values['subject']}",
        body=bodies(n, "released" if decision == "released" else "rejected", **values),
        at=at,
        hostname=config.relay.hostname,
        recipient_class=config.directory.classify(sender),
        reason=f"notice: {decision}",
    )
