"""The approved register: the school's own numbers, addresses and accounts, and every
exception reviewers and admins approved, with who, why, its scope and its expiry.

The configuration's approved details (``[approved]`` in gateway.toml) are read
here and changed in that file; exceptions live in the store, where admins add,
edit and end them early. Every running gateway picks a change up within
seconds (``Store.exceptions_version``), and every change is audited with what
the exception was before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from gateway.config import Config
from gateway.config.settings import through_day
from gateway.detect import canonical_detail
from gateway.mail import DetailKind, Role, now_utc
from gateway.store import Store, User

EXPIRING_WITHIN = timedelta(days=7)  # flagged a week ahead


class RegisterError(Exception):
    """The change cannot be made as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    value: str
    label: str
    senders: tuple[str, ...]  # empty: any member of staff
    recipients: tuple[str, ...]  # empty: to anyone
    until: datetime | None
    source: str  # "gateway.toml", or who approved it (and from which copy)
    exception: dict[str, Any] | None = None  # the store's row; None for the configuration's

    def state(self, now: datetime) -> str:
        """in force, expiring (within a week), expired or ended."""
        if self.exception and self.exception["ended_at"]:
            return "ended"
        if self.until is None:
            return "in force"
        if self.until <= now:
            return "expired"
        return "expiring" if self.until - now <= EXPIRING_WITHIN else "in force"


def entries(config: Config, store: Store) -> list[Entry]:
    """The configuration's approved details, then the store's exceptions, newest first."""
    out = [
        Entry(a.kind, a.value, a.label, a.senders, a.recipients, a.until, "gateway.toml")
        for a in config.approved
    ]
    for e in reversed(store.exceptions()):
        source = f"{e['added_by']}, {e['added_at']:%Y-%m-%d}" + (
            f", from copy {e['copy_id']}" if e["copy_id"] else ""
        )
        out.append(
            Entry(
                e["kind"],
                e["value"],
                e["label"],
                tuple(e["senders"]),
                tuple(e["recipients"]),
                e["until"],
                source,
                e,
            )
        )
    return out


def _admin(user: User) -> None:
    if not Role(user.role).keeps_register:
        raise RegisterError(f"your role ({user.role}) cannot change the approved register")


def _addresses(text: str, what: str) -> list[str]:
    out = [a.strip().lower() for a in text.replace(",", " ").split() if a.strip()]
    bad = [a for a in out if "@" not in a or a.startswith("@") or a.endswith("@")]
    if bad:
        raise RegisterError(f"{what}: {bad[0]!r} is not an e-mail address")
    return out


def _until(config: Config, day: str) -> datetime:
    try:
        until = date.fromisoformat(day)
    except ValueError:
        raise RegisterError("the expiry is a date such as 2027-07-20") from None
    today = now_utc().astimezone(config.timezone).date()
    if not today <= until <= today + timedelta(days=366):
        raise RegisterError("an exception needs an expiry date within the next year")
    return through_day(until, config.timezone)  # approved through that whole day, school time


def add(
    config: Config,
    store: Store,
    *,
    user: User,
    kind: str,
    value: str,
    label: str,
    senders: str,
    recipients: str,
    until: str,
    reason: str,
) -> int:
    """Approve a detail (scoped to senders and recipients, or not) until a day."""
    _admin(user)
    if kind not in tuple(DetailKind):
        raise RegisterError(f"the kind is one of {', '.join(DetailKind)}")
    canonical = canonical_detail(kind, value, config.phone_region)
    if canonical is None:
        raise RegisterError(f"{value!r} is not a {kind} that can be approved")
    if not reason.strip() or not label.strip():
        raise RegisterError("say what it is (the label) and why (the reason, for the audit)")
    return store.add_exception(
        kind=kind,
        value=canonical,
        label=label,
        senders=_addresses(senders, "senders"),
        recipients=_addresses(recipients, "recipients"),
        until=_until(config, until),
        actor=user.name,
        reason=reason,
    )


def edit(
    config: Config,
    store: Store,
    exception: int,
    *,
    user: User,
    label: str,
    senders: str,
    recipients: str,
    until: str,
    reason: str,
) -> None:
    _admin(user)
    if not reason.strip():
        raise RegisterError("a reason is required: it goes in the audit log")
    if not store.change_exception(
        exception,
        actor=user.name,
        reason=reason,
        label=label,
        senders=_addresses(senders, "senders"),
        recipients=_addresses(recipients, "recipients"),
        until=_until(config, until),
    ):
        raise RegisterError(f"no exception {exception} in force to edit")


def end(store: Store, exception: int, *, user: User, reason: str) -> None:
    """End an exception now: from the next reload it no longer clears the detail."""
    _admin(user)
    if not reason.strip():
        raise RegisterError("a reason is required: it goes in the audit log")
    if not store.change_exception(exception, actor=user.name, reason=reason, end=True):
        raise RegisterError(f"no exception {exception} in force to end")
