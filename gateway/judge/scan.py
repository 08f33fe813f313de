"""Bytes + envelope + moment -> ScanResult, failing closed.

``Scanner.scan`` never raises and never passes a copy it could not scan:
an unreadable message, a detector error or a pattern that ran past its bound
holds every copy of a class that some rule applies to (parents and students
with the shipped rules), with the reason. ``gateway.judge.pool`` runs scans
in worker processes under a wall-clock deadline.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateway.judge.policy import Considered, Finding, PatternTimeout, PolicyEngine
from gateway.mail import RecipientClass, Verdict, header_block_end
from gateway.read.headers import decode_header, header, raw_values
from gateway.read.message import ReadLimits, UnreadableMessage, read_message

if TYPE_CHECKING:
    from gateway.config import Config


@dataclass(frozen=True, slots=True)
class ScanResult:
    verdict: Verdict
    recipients: dict[str, Verdict]
    classes: dict[str, RecipientClass]
    findings: tuple[Finding, ...]
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
    at: datetime | None = None
    subject: str = ""  # as read, for the store's listing: empty when the message was not read
    message_id: str = ""
    unread: tuple[str, ...] = ()  # "part: why" for each part that could not be read and counts

    @property
    def problem(self) -> str | None:
        """Why copies may be held without a finding: the scan failed, or parts could not be read."""
        if self.error:
            return self.error
        return ("could not read " + "; ".join(self.unread)) if self.unread else None

    def __reduce__(self):
        # Results cross from scan workers as pickles; the constructor with its
        # arguments unpickles several times faster than slots dataclass state.
        return ScanResult, (
            self.verdict,
            self.recipients,
            self.classes,
            self.findings,
            self.error,
            self.notes,
            self.at,
            self.subject,
            self.message_id,
            self.unread,
        )

    def as_json(self, file: str | None = None) -> dict:
        out: dict = {}
        if file is not None:
            out["file"] = file
        out["verdict"] = self.verdict
        out["recipients"] = dict(self.recipients)
        out["findings"] = [f.as_json() for f in self.findings]
        if self.error:
            out["error"] = self.error
        if self.unread:
            out["unread"] = list(self.unread)
        return out


def _envelope_from_headers(raw: bytes) -> tuple[str, list[str]]:
    head = raw[: 256 * 1024]
    msg = email.message_from_bytes(head[: header_block_end(head)] + b"\n\n")
    sender = email.utils.parseaddr(header(msg, "From"))[1].lower()
    rcpts = [
        a.lower()
        for _, a in email.utils.getaddresses(
            [decode_header(v) for h in ("To", "Cc", "Bcc") for v in raw_values(msg, h)]
        )
        if "@" in a
    ]
    return sender, list(dict.fromkeys(rcpts))


class Scanner:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine = PolicyEngine(config)
        self.limits = ReadLimits(
            max_depth=config.limits.max_mime_depth, max_parts=config.limits.max_parts
        )

    def held(
        self,
        reason: str,
        mail_from: str | None,
        rcpts: list[str] | None,
        at: datetime | None = None,
    ) -> ScanResult:
        """Every copy a rule could apply to is held, unscanned, with ``reason``."""
        classes = {r: self.config.directory.classify(r) for r in rcpts or []}
        scanned = self.config.rules.classes
        recipients = {
            r: (Verdict.QUARANTINE if c in scanned else Verdict.PASS) for r, c in classes.items()
        }
        verdict = Verdict.QUARANTINE if not recipients else Verdict.strictest(recipients.values())
        return ScanResult(verdict, recipients, classes, (), error=reason, at=at)

    @staticmethod
    def envelope_of(
        raw: bytes, mail_from: str | None, rcpts: list[str] | None
    ) -> tuple[str | None, list[str] | None]:
        """The envelope for a message that could not be read: from its headers if possible."""
        if mail_from is not None and rcpts:
            return mail_from, rcpts
        try:
            h_from, h_rcpts = _envelope_from_headers(raw)
        except Exception:  # noqa: BLE001 - no envelope at all: every copy is held
            return mail_from, rcpts
        return (mail_from if mail_from is not None else h_from), (rcpts or h_rcpts)

    def scan(
        self,
        raw: bytes,
        mail_from: str | None = None,
        rcpts: list[str] | None = None,
        at: datetime | None = None,
        trace: list[Considered] | None = None,
    ) -> ScanResult:
        """``trace``, when given, receives every candidate and what became of it."""
        try:
            view = read_message(raw, self.config.directory.is_colleague, self.limits)
        except UnreadableMessage as exc:
            return self.held(
                f"unreadable message: {exc}", *self.envelope_of(raw, mail_from, rcpts), at
            )
        except Exception as exc:  # noqa: BLE001 - fail closed on any parser failure
            return self.held(
                f"message could not be parsed ({type(exc).__name__})",
                *self.envelope_of(raw, mail_from, rcpts),
                at,
            )
        if mail_from is None:
            mail_from = view.sender.address
        if not rcpts:
            rcpts = list(view.recipients)
        if at is None:
            at = view.date or datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.config.timezone)
        if not rcpts:
            return self.held("message has no recipients", mail_from, rcpts, at)
        try:
            recipients, classes, findings = self.engine.judge(
                view, mail_from or "", rcpts, at, self.config.limits.pattern_timeout_seconds, trace
            )
        except PatternTimeout as exc:
            return self.held(f"rule {exc.args[0]} ran past its time bound", mail_from, rcpts, at)
        except Exception as exc:  # noqa: BLE001 - a detector bug holds the copy, never passes it
            return self.held(f"scanner error ({type(exc).__name__})", mail_from, rcpts, at)
        # A part nobody could read holds (or flags) every copy a rule applies to:
        # what it says may break any of them. Media passes, with a note, by default.
        unread: list[str] = []
        notes = list(view.notes)
        for u in view.unread:
            action = Verdict(self.config.limits.on_unreadable(u.kind))
            if action is Verdict.PASS:
                notes.append(f"not read: {u.describe()}")
                continue
            unread.append(u.describe())
            for r, cls in classes.items():
                if cls in self.config.rules.classes and action.rank > recipients[r].rank:
                    recipients[r] = action
        verdict = Verdict.strictest(recipients.values()) if recipients else Verdict.QUARANTINE
        return ScanResult(
            verdict,
            recipients,
            classes,
            tuple(findings),
            notes=tuple(notes),
            at=at,
            subject=view.subject,
            message_id=view.message_id,
            unread=tuple(unread),
        )
