"""One message's path: scan, dispose of each copy, commit what is ours, forward the rest.

A transaction ends in ``250`` only when every recipient copy is either
accepted by the next hop or committed (fsynced) to the store as held,
refused, queued or failed-with-a-notice. Anything else answers a 4xx and the
client keeps the message. The order matters: held and refused copies are
committed *before* clean copies are forwarded, so a forwarding failure can
answer 4xx without losing a hold, and the client's retry finds the hold
already there (copies are idempotent per message and recipient).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.app.metrics import Metrics
from gateway.config import Config
from gateway.deliver.dsn import POLICY_REFUSED, received_header
from gateway.deliver.next_hop import Delivery, NextHop
from gateway.deliver.outbox import Outbox
from gateway.dispose import Disposition, dispose, flag_header, refusal, rules_for
from gateway.judge.pool import ScanWorkers
from gateway.judge.scan import ScanResult
from gateway.mail import CopyStatus, Envelope, RecipientClass, new_queue_id, now_utc
from gateway.read.headers import header_fields
from gateway.review.notices import held_notices
from gateway.store import NewCopy, Store, StoredFinding, StoreError

log = logging.getLogger("chaperone")

STORE_DOWN = "451 4.3.0 Cannot store the message now, please try again later"

Run = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class _Message:
    """What one transaction knows, once scanned."""

    env: Envelope
    raw: bytes
    queue_id: str
    classes: dict[str, RecipientClass]
    result: ScanResult | None
    subject: str
    header_message_id: str

    def findings_for(self, recipient: str) -> tuple[StoredFinding, ...]:
        return tuple(
            StoredFinding(
                f.rule,
                f.category,
                f.action,
                f.evidence,
                f.part,
                f.zone,
                f.quoted,
                f.note,
                f.context,
                f.value,
            )
            for f in (self.result.findings if self.result else ())
            if recipient in f.copies
        )


class MailPath:
    """The relay's work for each message the edge hands in (``process``)."""

    def __init__(
        self,
        config: Callable[[], Config],
        store: Store,
        workers: ScanWorkers,
        next_hop: NextHop,
        outbox: Outbox,
        metrics: Metrics,
        run: Run,
        wake_outbox: Callable[[], None],
    ) -> None:
        self._config = config
        self.store = store
        self.workers = workers
        self.next_hop = next_hop
        self.outbox = outbox
        self.metrics = metrics
        self._run = run
        self._wake = wake_outbox
        self._counting: set[asyncio.Task] = set()  # sightings being recorded (see _sightings)

    async def process(self, env: Envelope, raw: bytes) -> str:
        started = time.perf_counter()
        config = self._config()
        classes = {r: config.directory.classify(r) for r in env.rcpt_tos}
        result: ScanResult | None = None
        scan_seconds = 0.0
        # Scan when some rule applies to some recipient's class; mail only to
        # classes no rule names (staff, with the shipped rules) goes straight on.
        if set(classes.values()) & config.rules.classes:
            t = time.perf_counter()
            result = await self.workers.scan(raw, env.mail_from, list(env.rcpt_tos), now_utc())
            scan_seconds = time.perf_counter() - t
            self.metrics.scan_seconds.observe(scan_seconds)
            if result.error:
                self.metrics.scan_errors.inc()
            for f in result.findings:
                if f.copies:
                    self.metrics.rule_hits.labels(f.rule, f.category).inc()
        plan = dispose(
            env.rcpt_tos, result.recipients if result else {}, result.findings if result else ()
        )
        subject, message_id = (
            (result.subject, result.message_id)
            if result and not result.error
            else header_fields(raw)
            if plan.hold or plan.refuse
            else ("", "")
        )
        msg = _Message(env, raw, new_queue_id(), classes, result, subject, message_id)
        outcome: dict[str, str] = {}
        record: dict[str, Any] = {
            "event": "message",
            "sender": env.mail_from or "<>",
            "client": env.client_address,
            "size": len(raw),
        }

        def finish(reply: str, how: str, next_hop: str = "") -> str:
            total = time.perf_counter() - started
            self.metrics.transaction_seconds.observe(total)
            self.metrics.messages.labels(how).inc()
            for r, fate in outcome.items():
                self.metrics.copies.labels(fate, classes[r]).inc()
            record["recipients"] = [
                {
                    "class": classes[r],
                    "verdict": outcome.get(r, "none"),
                    "rules": sorted(
                        {f.rule for f in (result.findings if result else ()) if r in f.copies}
                    ),
                }
                for r in env.rcpt_tos
            ]
            record.update(
                queue_id=queue_id,
                outcome=how,
                reply=reply.split(" ", 1)[0],
                scan_ms=round(scan_seconds * 1000, 1),
                total_ms=round(total * 1000, 1),
                next_hop=next_hop,
            )
            if result and result.error:
                record["scan_error"] = result.error
            if result and result.unread:
                record["unread"] = len(result.unread)
            log.info("message", extra={"json": record})
            if result:
                self._sightings(result, outcome)
            return reply

        queue_id = msg.queue_id
        if plan.hold or plan.refuse:
            stored = await self._keep(msg, plan)
            if stored is None:
                return finish(STORE_DOWN, "deferred")
            queue_id = stored
            outcome.update(dict.fromkeys(plan.hold, "held"))
            outcome.update(dict.fromkeys(plan.refuse, "refused"))
        if not plan.delivered:
            if plan.refuse and not plan.hold:
                # Refused for every recipient: the client's own server bounces it.
                return finish(refusal(_rules(msg, plan.refuse)), "refused")
            if plan.refuse:
                await self._tell_refused(msg, queue_id, plan)
            return finish(f"250 2.0.0 Ok: queued as {queue_id}", "accepted")

        delivery = await self._forward(msg, queue_id, plan)
        for r in delivery.accepted:
            outcome[r] = "flagged" if r in plan.flag else "forwarded"
        if not delivery.accepted and not delivery.permanent:
            # Nothing went through and the next hop may take it later: the
            # client keeps the message and retries; held copies are already
            # stored and will not be stored twice.
            return finish(
                "451 4.4.1 Next hop unavailable, please try again later", "deferred", delivery.reply
            )
        if not delivery.accepted and not delivery.temporary and not plan.hold and not plan.refuse:
            # Refused outright for every recipient: let the client's own
            # server bounce it, with the next hop's reason.
            first = next(iter(delivery.permanent.values()))
            code = first[:3] if first[:3].isdigit() and first[0] == "5" else "550"
            outcome.update(dict.fromkeys(plan.delivered, "refused"))
            return finish(
                f"{code} 5.0.0 Refused by the next hop: {first[4:200]}", "refused", delivery.reply
            )
        # Some copies went through: the rest must become our responsibility now.
        later = await self._take_over(msg, queue_id, delivery)
        if later is None:
            return finish(STORE_DOWN, "deferred", delivery.reply)
        outcome.update(later)
        if plan.refuse:
            await self._tell_refused(msg, queue_id, plan)
        return finish(f"250 2.0.0 Ok: queued as {queue_id}", "accepted", delivery.reply)

    def _sightings(self, result: ScanResult, outcome: dict[str, str]) -> None:
        """Count, per rule, the copies it found something in that went through anyway (a
        rule set to monitor or flag), for the rules page: held copies are counted from
        their stored findings. Recorded after the client has its answer; a count lost to
        a dead store is logged, never a delay or a lost message."""
        let_through = ("forwarded", "flagged", "queued")
        counts: dict[str, int] = {}
        for f in result.findings:
            n = sum(1 for r in f.copies if outcome.get(r) in let_through)
            if n:
                counts[f.rule] = max(counts.get(f.rule, 0), n)
        if not counts:
            return

        async def record() -> None:
            try:
                await self._run(self.store.record_sightings, counts)
            except StoreError as exc:
                log.error("rule sightings not recorded", extra={"json": {"error": str(exc)}})

        task = asyncio.get_running_loop().create_task(record())
        self._counting.add(task)
        task.add_done_callback(self._counting.discard)

    async def _keep(self, msg: _Message, plan: Disposition) -> str | None:
        """Commit held and refused copies, with the notices about the held ones; the queue id, or None."""
        config = self._config()
        result = msg.result
        error = result.problem if result else None
        rules = _rules(msg, plan.hold)
        if result and result.error:
            reason = f"held unscanned: {result.error}"
        elif result:
            reason = (
                "; ".join(
                    ([f"rules: {', '.join(rules)}"] if rules else [])
                    + ([error] if error else [])  # ScanResult.problem: "could not read ..."
                )
                or "policy"
            )
        else:
            reason = "policy"
        copies = [
            NewCopy(r, msg.classes[r], CopyStatus.HELD, reason, msg.findings_for(r))
            for r in plan.hold
        ]
        copies += [
            NewCopy(
                r,
                msg.classes[r],
                CopyStatus.REJECTED,
                "refused by rules: " + ", ".join(_rules(msg, (r,))),
                msg.findings_for(r),
            )
            for r in plan.refuse
        ]
        findings = result.findings if result else ()
        notices = (
            held_notices(
                config,
                sender=msg.env.mail_from,
                subject=msg.subject,
                queue_id=msg.queue_id,
                held={r: [f for f in findings if r in f.copies] for r in plan.hold},
                scan_error=error,
                at=now_utc(),
            )
            if plan.hold
            else []
        )
        try:
            accepted = await self._run(
                self.store.accept,
                msg.env,
                msg.raw,
                copies,
                subject=msg.subject,
                header_message_id=msg.header_message_id,
                scan_error=error,
                queue_id=msg.queue_id,
                notices=notices,
            )
        except StoreError as exc:
            log.error(
                "store unavailable; answering 4xx",
                extra={"json": {"queue_id": msg.queue_id, "error": str(exc)}},
            )
            return None
        if accepted.new and notices:
            self._wake()
        return accepted.message_id

    async def _forward(self, msg: _Message, queue_id: str, plan: Disposition) -> Delivery:
        """Plain copies in one transaction; flagged copies with their header, one per set of rules."""
        config = self._config()
        trace = received_header(
            msg.env.client_helo, msg.env.client_address, config.relay.hostname, queue_id, now_utc()
        )
        groups: dict[bytes, list[str]] = {b"": list(plan.forward)} if plan.forward else {}
        for r, rules in plan.flag.items():
            groups.setdefault(flag_header(rules), []).append(r)
        sends = [
            self.next_hop.send(
                msg.env.mail_from, rcpts, trace + header + msg.raw, msg.env.mail_options
            )
            for header, rcpts in groups.items()
        ]
        deliveries = await asyncio.gather(*sends)
        if len(deliveries) == 1:
            return deliveries[0]
        return Delivery(
            accepted=tuple(r for d in deliveries for r in d.accepted),
            temporary={r: v for d in deliveries for r, v in d.temporary.items()},
            permanent={r: v for d in deliveries for r, v in d.permanent.items()},
            reply=" | ".join(d.reply for d in deliveries if d.reply),
            possible_duplicate=any(d.possible_duplicate for d in deliveries),
        )

    async def _take_over(
        self, msg: _Message, queue_id: str, delivery: Delivery
    ) -> dict[str, str] | None:
        """Queue temporarily refused copies; record permanent refusals and notify the sender."""
        if not delivery.temporary and not delivery.permanent:
            return {}
        subject, message_id = (
            (msg.subject, msg.header_message_id)
            if msg.subject or msg.header_message_id
            else header_fields(msg.raw)
        )
        copies = [
            NewCopy(r, msg.classes[r], CopyStatus.QUEUED, "next hop deferred", last_reply=reply)
            for r, reply in delivery.temporary.items()
        ]
        copies += [
            NewCopy(
                r, msg.classes[r], CopyStatus.FAILED, "refused by the next hop", last_reply=reply
            )
            for r, reply in delivery.permanent.items()
        ]
        try:
            await self._run(
                self.store.accept,
                msg.env,
                msg.raw,
                copies,
                subject=subject,
                header_message_id=message_id,
                queue_id=queue_id,
            )
            if delivery.permanent:
                await self.outbox.notify_failure(
                    msg.env.mail_from, queue_id, delivery.permanent, msg.raw
                )
                self._wake()
        except StoreError as exc:
            log.error(
                "store unavailable after a partial delivery",
                extra={"json": {"queue_id": queue_id, "error": str(exc)}},
            )
            return None
        if delivery.temporary:
            self._wake()
        return {
            **dict.fromkeys(delivery.temporary, "queued"),
            **dict.fromkeys(delivery.permanent, "failed"),
        }

    async def _tell_refused(self, msg: _Message, queue_id: str, plan: Disposition) -> None:
        """A DSN to the sender for the copies the policy refused (the others went on or are held)."""
        failed = {r: refusal(_rules(msg, (r,))) for r in plan.refuse}
        try:
            await self.outbox.notify_failure(
                msg.env.mail_from, queue_id, failed, msg.raw, why=POLICY_REFUSED
            )
        except StoreError as exc:
            # The refused copies are recorded; only the sender's notice is missing.
            log.error(
                "cannot queue the notice of refused copies",
                extra={"json": {"queue_id": queue_id, "error": str(exc)}},
            )
            return
        self._wake()


def _rules(msg: _Message, recipients: tuple[str, ...] | list[str]) -> list[str]:
    findings = msg.result.findings if msg.result else ()
    return sorted({rule for r in recipients for rule in rules_for(r, findings)})
