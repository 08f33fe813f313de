"""The delivery queue and the quarantine's clock: retries, bounces, reminders, expiry.

Everything the gateway itself must deliver lives in the store until the next
hop accepts it: copies the next hop deferred, released copies, notices and
DSNs. ``Outbox.run_once`` claims what is due (a lease, so several workers or
nodes never take the same copy), tries it, and records the outcome:
delivered; deferred with exponential backoff and jitter; or, on a permanent
refusal or at the give-up time, failed with a DSN to the sender (never to
the null sender). It also reminds reviewers of held copies close to expiry
and expires the ones nobody decided on, telling their senders.

The clock is injected, so tests can run five days of retries in a second.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from gateway.config import Config
from gateway.deliver.dsn import NEXT_HOP_REFUSED, build_dsn, received_header, release_header
from gateway.deliver.next_hop import NextHop
from gateway.mail import CopyStatus, Envelope, now_utc
from gateway.review.notices import bodies, build, one_line
from gateway.store import CopyRecord, NewCopy, Store

log = logging.getLogger("chaperone")


class Outbox:
    def __init__(
        self,
        config: Callable[[], Config],
        store: Store,
        next_hop: NextHop,
        *,
        clock: Callable[[], datetime] = now_utc,
        run: Callable[..., Awaitable[Any]] | None = None,
        on_attempt: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._config = config  # a callable: reloads take effect on the next attempt
        self.store = store
        self.next_hop = next_hop
        self.clock = clock
        self._run = run or (lambda fn, *a, **k: asyncio.to_thread(fn, *a, **k))
        self._on_attempt = on_attempt or (lambda outcome: None)
        self._rng = rng or random.Random()

    @property
    def config(self) -> Config:
        return self._config()

    def backoff(self, attempts: int) -> timedelta:
        """From the first delay, doubling per attempt, capped; +-10 % jitter so retries do not bunch."""
        s = self.config.relay
        delay = min(s.retry_initial_seconds * 2 ** max(0, attempts - 1), s.retry_max_seconds)
        return timedelta(seconds=delay * self._rng.uniform(0.9, 1.1))

    def lease(self) -> timedelta:
        s = self.config.relay
        return timedelta(seconds=s.lease_seconds or max(60.0, s.next_hop_timeout_seconds * 2))

    async def run_once(self, limit: int = 20) -> int:
        """Attempt every due copy (up to ``limit``); the number attempted."""
        claimed = await self._run(self.store.claim_due, self.clock(), self.lease(), limit)
        for copy in claimed:
            await self.deliver(copy)
        return len(claimed)

    async def deliver(self, copy: CopyRecord) -> str:
        message = await self._run(self.store.message, copy.message_id)
        env = message.envelope
        host = self.config.relay.hostname
        now = self.clock()
        if copy.status == CopyStatus.RELEASED:
            # The exact held bytes and one trace line naming the release; a
            # released copy is never scanned again.
            data = release_header(host, message.id, now) + message.raw
        else:
            data = (
                received_header(env.client_helo, env.client_address, host, message.id, now)
                + message.raw
            )

        async def sending() -> None:
            # Committed before DATA: if this process dies from here until the
            # outcome is settled, the next attempt is marked a possible duplicate.
            await self._run(self.store.sending, copy.id)

        delivery = await self.next_hop.send(
            env.mail_from, [copy.recipient], data, env.mail_options, before_data=sending
        )
        now = self.clock()
        if delivery.accepted:
            await self._run(self.store.settle, copy.id, "delivered", delivery.reply, at=now)
            outcome = "delivered"
        elif delivery.permanent or now - copy.created_at >= timedelta(
            seconds=self.config.relay.give_up_seconds
        ):
            reply = delivery.permanent.get(copy.recipient) or (
                f"gave up after {copy.attempts} attempts over {now - copy.created_at}: {delivery.reply}"
            )
            if await self._run(
                self.store.settle,
                copy.id,
                "failed",
                reply,
                at=now,
                possible_duplicate=delivery.possible_duplicate,
            ):
                await self.notify_failure(
                    env.mail_from, message.id, {copy.recipient: reply}, message.raw
                )
            outcome = "failed"
        else:
            reply = delivery.temporary.get(copy.recipient, delivery.reply)
            await self._run(
                self.store.settle,
                copy.id,
                "deferred",
                reply,
                next_attempt_at=now + self.backoff(copy.attempts),
                at=now,
                possible_duplicate=delivery.possible_duplicate,
            )
            outcome = "deferred"
        self._on_attempt(outcome)
        log.info(
            "delivery",
            extra={
                "json": {
                    "event": "delivery",
                    "queue_id": message.id,
                    "copy": copy.id,
                    "recipient_class": copy.recipient_class,
                    "outcome": outcome,
                    "attempt": copy.attempts,
                    "next_hop": delivery.reply[:200],
                    "possible_duplicate": delivery.possible_duplicate or copy.possible_duplicate,
                }
            },
        )
        return outcome

    async def notify_failure(
        self,
        sender: str,
        queue_id: str,
        failed: dict[str, str],
        raw: bytes,
        *,
        why: tuple[str, ...] = NEXT_HOP_REFUSED,
    ) -> None:
        """An RFC 3464 DSN to the sender, queued like any other copy."""
        if not sender:  # never a notice to the null sender: that is how loops start
            return
        config = self.config
        dsn = build_dsn(
            hostname=config.relay.hostname,
            sender=sender,
            queue_id=queue_id,
            failed=failed,
            original_headers=raw,
            at=self.clock(),
            why=why,
        )
        await self._run(
            self.store.accept,
            Envelope("", (sender,), (), "", config.relay.hostname),
            dsn,
            [
                NewCopy(
                    sender,
                    config.directory.classify(sender),
                    CopyStatus.QUEUED,
                    "delivery status notice",
                )
            ],
            subject="Undelivered Mail Returned to Sender",
            kind="notice",
            at=self.clock(),
        )

    # -- the quarantine's clock --------------------------------------------------
    async def housekeeping(self) -> tuple[int, int]:
        """Remind reviewers of copies close to expiry; expire the overdue ones. (reminded, expired)"""
        config = self.config
        s, n = config.relay, config.notices
        now = self.clock()
        expired = 0
        for copy in await self._run(
            self.store.held_before, now - timedelta(seconds=s.expire_seconds)
        ):
            days = round(s.expire_seconds / 86400)
            if not await self._run(
                self.store.decide,
                copy.id,
                "expired",
                actor="gateway",
                reason=f"not reviewed within {days} days",
                at=now,
            ):
                continue
            expired += 1
            if n.sender_on_decision and copy.mail_from:
                notice = build(
                    n,
                    to=copy.mail_from,
                    subject=f"Expired unreviewed: {one_line(copy.subject, 150)}",
                    body=bodies(
                        n,
                        "expired",
                        subject=one_line(copy.subject, 150),
                        recipient=copy.recipient,
                        held_on=f"{copy.created_at:%d %B %Y}",
                        days=str(days),
                        queue_id=copy.message_id,
                        reviewers=", ".join(n.reviewers) or "the safeguarding lead",
                    ),
                    at=now,
                    hostname=s.hostname,
                    recipient_class=config.directory.classify(copy.mail_from),
                    reason="notice: expired",
                )
                await self._run(
                    self.store.accept,
                    notice.envelope,
                    notice.raw,
                    notice.copies,
                    subject=notice.subject,
                    kind="notice",
                    at=now,
                )
        reminded = 0
        soon = now - timedelta(seconds=s.expire_seconds - s.remind_seconds_before)
        due = await self._run(self.store.held_before, soon, unreminded=True)
        if due and n.reviewers:
            marked = set(await self._run(self.store.mark_reminded, [c.id for c in due], now))
            copies = [c for c in due if c.id in marked]
            if copies:
                reminded = len(copies)
                items = "\n".join(
                    f'- copy {c.id}: {c.mail_from} to {c.recipient}, "{one_line(c.subject, 80)}", held '
                    f"{c.created_at:%d %b}, expires {c.created_at + timedelta(seconds=s.expire_seconds):%d %b}"
                    for c in copies
                )
                body = bodies(
                    n,
                    "reviewer-reminder",
                    count=str(len(copies)),
                    items=items,
                    days=str(round(s.remind_seconds_before / 86400)),
                    review_link=f"Open them at: {n.review_url}" if n.review_url else "",
                )
                await self._tell_reviewers(
                    f"[Chaperone] {len(copies)} held message(s) expire soon",
                    body,
                    now,
                    "notice: reminder",
                )
        await self._digest(now)
        return reminded, expired

    async def _digest(self, now: datetime) -> int:
        """With reviewers_on_hold = "digest": one summary once the oldest unlisted hold is a period old."""
        n = self.config.notices
        if n.reviewers_on_hold != "digest" or not n.reviewers:
            return 0
        period = timedelta(hours=n.digest_hours)
        if not await self._run(self.store.held_before, now - period, undigested=True, limit=1):
            return 0
        pending = await self._run(self.store.held_before, now, undigested=True)
        marked = set(
            await self._run(
                self.store.mark_reminded, [c.id for c in pending], now, column="digested_at"
            )
        )
        copies = [c for c in pending if c.id in marked]
        if not copies:
            return 0
        items = "\n".join(
            f"- copy {c.id}: {c.mail_from} to {c.recipient} ({c.recipient_class}), "
            f'"{one_line(c.subject, 80)}", {", ".join(sorted({f.category for f in c.findings})) or c.reason}'
            for c in copies
        )
        body = bodies(
            n,
            "reviewer-digest",
            count=str(len(copies)),
            items=items,
            review_link=f"Open them at: {n.review_url}" if n.review_url else "",
        )
        await self._tell_reviewers(
            f"[Chaperone] {len(copies)} message(s) held for review", body, now, "notice: digest"
        )
        return len(copies)

    async def _tell_reviewers(
        self, subject: str, body: tuple[str, str | None], now: datetime, reason: str
    ) -> None:
        config = self.config
        for reviewer in config.notices.reviewers:
            notice = build(
                config.notices,
                to=reviewer,
                subject=subject,
                body=body,
                at=now,
                hostname=config.relay.hostname,
                recipient_class=config.directory.classify(reviewer),
                reason=reason,
            )
            await self._run(
                self.store.accept,
                notice.envelope,
                notice.raw,
                notice.copies,
                subject=notice.subject,
                kind="notice",
                at=now,
            )
