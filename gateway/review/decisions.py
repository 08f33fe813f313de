"""Reviewer decisions: one service for the CLI now and the web app later.

A decision is a compare-and-set on a held copy (``Store.decide``), recorded in
the audit table with who, when and why, so a double click, two reviewers at
once or fifty concurrent calls release a copy exactly once. A released copy
goes to the delivery queue with its exact held bytes and is never scanned
again; the sender is told of every decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from gateway.config import Config
from gateway.config.settings import through_day
from gateway.detect import detectors
from gateway.mail import CopyStatus, DetailKind, Role, canonical_address, header_block_end, now_utc
from gateway.review.concerns import after_breach
from gateway.review.notices import decision_notice
from gateway.review.tuning import BREACH_VERDICTS, TuningError, check_verdict
from gateway.store import CopyRecord, NewException, Store, StoreError, User


class DecisionError(Exception):
    """The decision cannot be made as asked; the message says why and what to do."""


class NotYoursToDecide(DecisionError):
    """This reviewer may not decide on this copy: they sent it (HTTP 403 in the web app)."""


@dataclass(frozen=True, slots=True)
class DecisionResult:
    copy_id: int
    recipient: str
    changed: bool  # False: it was already decided (by this or another reviewer)
    status: str  # the copy's status afterwards
    awaiting_second: bool = False  # recorded as approved; another reviewer must approve too
    exceptions: tuple[int, ...] = ()  # approved exceptions this release put in force

    def describe(self) -> str:
        if self.awaiting_second:
            return (
                f"copy {self.copy_id} to {self.recipient}: approved once; a second reviewer "
                "must release it (and any exception asked for with it)"
            )
        if self.changed:
            return f"copy {self.copy_id} to {self.recipient}: {self.status}"
        return f"copy {self.copy_id} to {self.recipient}: unchanged, already {self.status}"


def targets(store: Store, target: str, recipient: str | None = None) -> list[CopyRecord]:
    """The copies a decision is about: a copy id, or a message's queue id (its held copies).

    A queue id is twelve hex digits, so now and then all of them are decimal digits
    ("868633200308"): a number that is no copy's id is tried as a queue id."""
    numeric = target.isascii() and target.isdigit() and len(target) <= 18
    copy = store.copy(int(target)) if numeric else None
    if copy is not None:
        copies = [copy]
    else:
        decidable = (CopyStatus.HELD, CopyStatus.RELEASED, CopyStatus.REJECTED, CopyStatus.EXPIRED)
        copies = [c for c in store.copies_of(target.upper()) if c.status in decidable]
    if recipient:
        copies = [c for c in copies if c.recipient.lower() == recipient.lower()]
    if not copies:
        raise DecisionError(
            f"nothing to decide for {target!r}{' and ' + recipient if recipient else ''} "
            "(see 'gateway quarantine list --status held')"
        )
    return copies


def reviewer_account(store: Store, actor: str) -> User:
    """The account deciding: it must exist, be enabled, decide (reviewer or admin) and
    have an e-mail address, without which nobody could tell their own mail from others'."""
    if not actor.strip():
        raise DecisionError("say who is deciding (a reviewer or admin account)")
    user = store.user(actor)
    if user is None or user.disabled:
        raise DecisionError(
            f"no enabled account {actor!r}: decisions are made by reviewer and admin accounts "
            "('gateway user add NAME --role reviewer --email ADDRESS')"
        )
    if not Role(user.role).decides:
        raise DecisionError(f"{actor} is an {user.role}: only reviewers and admins decide")
    if not user.email.strip():
        raise DecisionError(
            f"account {actor!r} has no e-mail address, so its own mail cannot be recognised; "
            "give it one before it decides"
        )
    return user


def authors(config: Config, store: Store, copy: CopyRecord) -> set[str]:
    """Every mailbox the copy claims to come from: the envelope sender and the header
    From, Sender and Reply-To, canonical (see ``canonical_address``)."""
    domains = config.directory.staff_domains
    found = {copy.mail_from} if copy.mail_from else set()
    message = store.message(copy.message_id)
    if message is not None:
        headers = BytesHeaderParser(policy=compat32).parsebytes(
            message.raw[: header_block_end(message.raw)]
        )
        for name in ("From", "Sender", "Reply-To"):
            values = [str(v) for v in headers.get_all(name, [])]
            found |= {a for _, a in getaddresses(values) if "@" in a}
    return {canonical_address(a, domains) for a in found}


def is_own_mail(config: Config, store: Store, copy: CopyRecord, user: User) -> bool:
    return canonical_address(user.email, config.directory.staff_domains) in authors(
        config, store, copy
    )


def _check_decision(
    config: Config, store: Store, copies: list[CopyRecord], *, actor: str, reason: str
) -> None:
    """Refuse a decision by anyone but a reviewer account, without a reason, on a notice,
    or on mail the reviewer sent (by any of its addresses)."""
    user = reviewer_account(store, actor)
    if not reason.strip():
        raise DecisionError("a reason is required: it goes in the audit log")
    for copy in copies:
        if copy.kind != "mail":
            raise DecisionError(f"copy {copy.id} is a notice the gateway wrote, not a held message")
        if is_own_mail(config, store, copy, user):
            raise NotYoursToDecide("you sent this message, so another reviewer must decide on it")


def _decide(
    config: Config,
    store: Store,
    target: str,
    decision: str,
    *,
    actor: str,
    reason: str,
    recipient: str | None,
    note: str,
    exception: NewException | None = None,
    verdict: str | None = None,
) -> list[DecisionResult]:
    copies = targets(store, target, recipient)
    _check_decision(config, store, copies, actor=actor, reason=reason)
    try:
        verdict = check_verdict(verdict)
    except TuningError as exc:
        raise DecisionError(str(exc)) from None
    results = []
    for copy in copies:
        if decision == CopyStatus.RELEASED:
            outcome = store.release(
                copy.id,
                actor=actor,
                reason=reason,
                reviewers=2 if _needs_two(config, copy) else 1,
                exception=exception,
                verdict=verdict,
            )
            if outcome.repeated:
                raise DecisionError(
                    f"copy {copy.id} needs a second, different reviewer to release it"
                )
            changed = outcome.released
            waiting = outcome.status == CopyStatus.HELD
            results.append(
                DecisionResult(
                    copy.id,
                    copy.recipient,
                    changed,
                    outcome.status,
                    awaiting_second=waiting,
                    exceptions=outcome.exceptions,
                )
            )
        else:
            changed = store.decide(copy.id, decision, actor=actor, reason=reason)
            after = store.copy(copy.id)
            assert after is not None
            results.append(DecisionResult(copy.id, copy.recipient, changed, after.status))
        if changed:
            notice = decision_notice(
                config,
                decision=decision,
                sender=copy.mail_from,
                recipient=copy.recipient,
                subject=copy.subject,
                queue_id=copy.message_id,
                reviewer=actor,
                note=note,
                at=now_utc(),
            )
            if notice is not None:
                try:
                    store.accept(
                        notice.envelope,
                        notice.raw,
                        notice.copies,
                        subject=notice.subject,
                        kind="notice",
                    )
                except StoreError:
                    # The decision stands (it is committed and audited); only the notice is missing.
                    store.audit(
                        "gateway", "notice-failed", message_id=copy.message_id, copy_id=copy.id
                    )
                    raise
    breach = decision == CopyStatus.REJECTED or verdict in BREACH_VERDICTS
    confirmed = {c.mail_from for c, r in zip(copies, results, strict=True) if r.changed and breach}
    for sender in sorted(confirmed):
        after_breach(config, store, sender)  # a pattern across messages: the concerns log
    return results


def _needs_two(config: Config, copy: CopyRecord) -> bool:
    wanted = set(config.relay.two_person_categories)
    return bool(wanted & {f.category for f in copy.findings})


def release(
    config: Config,
    store: Store,
    target: str,
    *,
    actor: str,
    reason: str,
    recipient: str | None = None,
    verdict: str | None = None,
) -> list[DecisionResult]:
    """Deliver held copies exactly as written (plus one trace header); tell the sender.

    ``verdict`` is what the release says of the hold (``RELEASE_VERDICTS``);
    each rule's precision from decisions is read from it."""
    return _decide(
        config,
        store,
        target,
        CopyStatus.RELEASED,
        actor=actor,
        reason=reason,
        recipient=recipient,
        note="",
        verdict=verdict,
    )


def reject(
    config: Config,
    store: Store,
    target: str,
    *,
    actor: str,
    reason: str,
    tell_sender: str = "",
    recipient: str | None = None,
) -> list[DecisionResult]:
    """Never deliver these copies; tell the sender, with ``tell_sender`` as the reviewer's words."""
    return _decide(
        config,
        store,
        target,
        CopyStatus.REJECTED,
        actor=actor,
        reason=reason,
        recipient=recipient,
        note=tell_sender,
    )


SCOPES = ("sender", "sender-recipient", "anyone")


def approvable(config: Config, copy: CopyRecord) -> list[tuple[int, DetailKind, str]]:
    """(index, kind, value) of the findings on this copy that a reviewer may approve as an exception:
    those of a detector that says its details can be approved (see ``gateway.detect``)."""
    out = []
    known = detectors()
    for i, f in enumerate(copy.findings):
        rule = config.rules.get(f.rule)
        detector = known.get(rule.detector) if rule else None
        if detector and detector.approved_as and detector.reviewer_may_approve and f.value:
            out.append((i, detector.approved_as, f.value))
    return out


def release_with_exception(
    config: Config,
    store: Store,
    copy_id: int,
    *,
    actor: str,
    reason: str,
    finding: int,
    scope: str,
    until: date,
) -> list[DecisionResult]:
    """Approve the detail a finding names (scoped, with an expiry) and release the copy: one step.

    The exception is in force once the copy is released (a two-person copy, or
    an exception for all staff, needs a second reviewer's release first);
    running gateways pick it up within seconds, so the sender's next message
    with that detail is not held.
    """
    copy = store.copy(copy_id)
    if copy is None or copy.status != CopyStatus.HELD:
        raise DecisionError(f"copy {copy_id} is not held")
    _check_decision(config, store, [copy], actor=actor, reason=reason)
    choices = {i: (kind, value) for i, kind, value in approvable(config, copy)}
    if finding not in choices:
        raise DecisionError("that finding is not a contact detail that can be approved")
    if scope not in SCOPES:
        raise DecisionError(f"scope must be one of {', '.join(SCOPES)}")
    today = now_utc().astimezone(config.timezone).date()
    if not today <= until <= today + timedelta(days=366):
        raise DecisionError("an exception needs an expiry date within the next year")
    kind, value = choices[finding]
    exception = NewException(
        kind=kind,
        value=value,
        label=f"approved by {actor} from copy {copy_id}: {reason}"[:200],
        senders=(copy.mail_from,) if scope in ("sender", "sender-recipient") else (),
        recipients=(copy.recipient,) if scope == "sender-recipient" else (),
        # Like the configuration's "until": approved through that whole day, school time.
        until=through_day(until, config.timezone),
    )
    # The exception comes into force with the release, in the same transaction:
    # never while the copy still waits for a second reviewer, and one for all
    # staff only once another reviewer has approved it (see Store.release).
    return _decide(
        config,
        store,
        str(copy_id),
        CopyStatus.RELEASED,
        actor=actor,
        reason=reason,
        recipient=None,
        note="",
        exception=exception,
        verdict="approved",
    )
