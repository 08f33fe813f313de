"""The gateway's vocabulary: the words every stage of a mail's path shares.

This module imports nothing from ``gateway``: receiving, reading, judging,
disposing, reviewing and delivering all speak in these types, so a value can
cross from one stage to the next without either knowing the other. The enums
are ``StrEnum``: they are stored, logged and written to JSON as their plain
values, and compare equal to them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class RecipientClass(StrEnum):
    """Who a recipient is to the school (``config/``'s directory decides)."""

    PARENT = "parent"
    STUDENT = "student"
    STAFF = "staff"
    PARTNER = "partner"


class Action(StrEnum):
    """What a rule asks for when it matches a copy it applies to."""

    MONITOR = "monitor"  # record the finding, deliver as usual
    FLAG = "flag"  # deliver with a header naming the rules, and log
    QUARANTINE = "quarantine"  # hold for a reviewer
    REJECT = "reject"  # refuse the copy outright (5.7.1); the sender's server bounces it
    OFF = "off"  # the rule is kept, switched off: it never runs

    @property
    def verdict(self) -> Verdict:
        return Verdict.PASS if self in (Action.MONITOR, Action.OFF) else Verdict(self.value)


class Verdict(StrEnum):
    """The outcome for one recipient copy: the strictest action of its findings."""

    PASS = "pass"
    FLAG = "flag"
    QUARANTINE = "quarantine"
    REJECT = "reject"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]

    @property
    def holds(self) -> bool:
        """The copy does not reach its recipient without a reviewer (quarantine) or at all (reject)."""
        return self in (Verdict.QUARANTINE, Verdict.REJECT)

    @staticmethod
    def strictest(verdicts: object) -> Verdict:
        return max((Verdict(v) for v in verdicts), key=lambda v: v.rank, default=Verdict.PASS)  # type: ignore[attr-defined]


_VERDICT_RANK = {Verdict.PASS: 0, Verdict.FLAG: 1, Verdict.QUARANTINE: 2, Verdict.REJECT: 3}


class CopyStatus(StrEnum):
    """Where a recipient copy the gateway took responsibility for stands."""

    HELD = "held"  # waiting for a reviewer
    RELEASED = "released"  # a reviewer released it; the delivery queue sends it
    REJECTED = "rejected"  # a reviewer rejected it; never delivered
    EXPIRED = "expired"  # nobody decided in time; never delivered
    DELIVERED = "delivered"  # the next hop accepted it
    QUEUED = "queued"  # the next hop deferred it; retried later
    FAILED = "failed"  # refused by the next hop (the sender got a DSN)


class Role(StrEnum):
    """What a web or CLI account may do."""

    REVIEWER = "reviewer"  # decides on held copies
    ADMIN = "admin"  # decides, reads the audit
    AUDITOR = "auditor"  # reads everything, decides nothing

    @property
    def decides(self) -> bool:
        return self in (Role.REVIEWER, Role.ADMIN)

    @property
    def reads_audit(self) -> bool:
        return self in (Role.ADMIN, Role.AUDITOR)

    @property
    def reads_rules(self) -> bool:
        """Sees the rules page: each rule's hits and precision from decisions."""
        return self in (Role.ADMIN, Role.AUDITOR)

    @property
    def tunes_rules(self) -> bool:
        """Changes rules in the app."""
        return self is Role.ADMIN

    @property
    def keeps_register(self) -> bool:
        """Adds, edits and ends approved exceptions in the register."""
        return self is Role.ADMIN


# What a reviewer says when releasing a copy: was the hold a breach? A rejection is
# one; of releases, these verdicts are (gateway.review.tuning reads precision from them).
RELEASE_VERDICTS: dict[str, str] = {
    "other-person": "not a breach: another person's detail",
    "approved": "not a breach: an approved detail",
    "wording": "not a breach: the wording is fine",
    "allowed": "a breach, but allowed",
}
BREACH_VERDICTS = frozenset({"allowed"})


class DetailKind(StrEnum):
    """The kinds of contact detail the approved register holds."""

    PHONE = "phone"  # E.164
    EMAIL = "email"  # lower-cased address
    ACCOUNT = "account"  # "platform:handle", lower-cased


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SMTP envelope of one transaction, as the edge received it."""

    mail_from: str  # "" for the null sender
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...] = ()
    client_address: str = ""
    client_helo: str = ""


def new_queue_id() -> str:
    return secrets.token_hex(6).upper()


def now_utc() -> datetime:
    return datetime.now(UTC)


def in_domains(
    address_or_domain: str, domains: tuple[str, ...] | frozenset[str] | list[str]
) -> int:
    """How specific the best match of a domain (or an address's domain) is among ``domains``,
    0 for none: ``mail.school.example`` is in ``school.example``; ``evilschool.example`` is not."""
    domain = address_or_domain.rpartition("@")[2].lower().rstrip(".")
    best = 0
    for d in domains:
        if (domain == d or domain.endswith("." + d)) and len(d) > best:
            best = len(d)
    return best


def canonical_address(address: str, domains: tuple[str, ...] | list[str] = ()) -> str:
    """One spelling per mailbox, to compare people rather than strings: lower case,
    no ``+tag``, and a sub-domain of one of ``domains`` (the school's) folded into
    it, so ``Name+trips@mail.school.example`` is ``name@school.example``."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    local = local.split("+", 1)[0]
    domain = domain.rstrip(".")
    parents = [d for d in domains if domain == d or domain.endswith("." + d)]
    return f"{local}@{max(parents, key=len) if parents else domain}"


def header_block_end(raw: bytes) -> int:
    """Where a message's header block ends: the offset of the blank line that
    ends it (CRLF CRLF, or bare LF LF), or ``len(raw)`` if there is none.

    One answer for everyone who needs only the headers (the store's listing,
    the envelope of an unreadable message, the review screens).
    """
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def printable(text: str) -> str:
    """``text`` with every character that does not print (controls, line breaks,
    format and unassigned characters; tab excepted) turned into a space: safe to
    show on a terminal, in a log line or a header, and in a reviewer's page."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\t" else " " for ch in text or "")
