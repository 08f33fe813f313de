"""The delivery queue and the quarantine's clock, driven by an injected clock on a real store and next hop."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from gateway.config import HostPort
from gateway.deliver.next_hop import NextHop
from gateway.deliver.outbox import Outbox
from gateway.store import Envelope, NewCopy, Store, StoredFinding

from .conftest import PARENT, STAFF, mail
from .relay_env import Sink, free_port

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _outbox(config, store: Store, port: int, clock: Clock) -> Outbox:
    hop = NextHop(HostPort("127.0.0.1", port), local_hostname="gateway.test", timeout=5)
    return Outbox(lambda: config, store, hop, clock=clock, rng=random.Random(1))


async def test_next_hop_down_for_days_retries_on_schedule_then_bounces_to_the_sender(
    config, store_url
):
    store = Store(store_url)
    clock = Clock()
    outbox = _outbox(
        config, store, free_port(), clock
    )  # nothing listens there: the next hop is down
    accepted = store.accept(
        Envelope(STAFF, (PARENT,)),
        mail("Agenda attached."),
        [NewCopy(PARENT, "parent", "queued", "next hop deferred")],
        at=T0,
    )
    copy_id = accepted.copy_ids[PARENT]
    attempts: list[datetime] = []
    while store.copy(copy_id).status == "queued":
        assert await outbox.run_once() == 1
        attempts.append(clock.now)
        copy = store.copy(copy_id)
        if copy.status == "queued":
            clock.now = copy.next_attempt_at  # jump straight to the next retry
        assert len(attempts) < 500
    gaps = [(b - a).total_seconds() for a, b in zip(attempts, attempts[1:], strict=False)]
    # 5 min, doubling, capped near an hour, each with +-10 % jitter.
    for gap, expected in zip(gaps, [300, 600, 1200, 2400, 3600, 3600, 3600], strict=False):
        assert 0.9 * expected <= gap <= 1.1 * expected, gaps[:8]
    assert attempts[-1] - T0 >= timedelta(days=5) and attempts[-1] - T0 < timedelta(days=5, hours=2)
    final = store.copy(copy_id)
    assert (
        final.status == "failed" and "gave up" in final.last_reply
    )  # failed, never silently dropped
    [dsn] = [c for c in store.copies(kind="notice") if c.recipient == STAFF]
    assert dsn.status == "queued"
    assert b"Final-Recipient: rfc822; " + PARENT.encode() in store.message(dsn.message_id).raw
    assert sum(e.action == "deferred" for e in store.audit_log(copy_id)) == len(attempts) - 1
    store.close()


async def test_a_permanent_refusal_fails_at_once_and_the_null_sender_gets_no_dsn(config, store_url):
    sink = Sink().start()
    store = Store(store_url)
    clock = Clock()
    outbox = _outbox(config, store, sink.port, clock)
    # A notice (null sender) to an address the next hop refuses.
    store.accept(
        Envelope("", ("nosuchuser@elsewhere.example",)),
        mail("notice"),
        [NewCopy("nosuchuser@elsewhere.example", "parent", "queued", "notice")],
        at=T0,
        kind="notice",
    )
    assert await outbox.run_once() == 1
    [failed] = store.copies("failed", kind=None)
    assert failed.last_reply.startswith("550")
    assert store.copies("queued", kind=None) == []  # no DSN about a notice
    sink.stop()
    store.close()


async def test_held_mail_never_expires_silently(config, store_url):
    store = Store(store_url)
    clock = Clock()
    outbox = _outbox(config, store, free_port(), clock)
    finding = StoredFinding(
        "personal-phone",
        "personal_phone",
        "quarantine",
        "07700 900999",
        "body",
        "new",
        False,
        "mobile",
        "ring me on 07700 900999",
    )
    held = store.accept(
        Envelope(STAFF, (PARENT,)),
        mail("Ring me on 07700 900999.", subject="old one"),
        [NewCopy(PARENT, "parent", "held", "rules: personal-phone", (finding,))],
        subject="old one",
        at=T0,
    ).copy_ids[PARENT]
    reviewer = config.notices.reviewers[0]

    clock.now = T0 + timedelta(days=26)
    assert await outbox.housekeeping() == (0, 0)
    clock.now = T0 + timedelta(days=27, seconds=1)  # three days before expiry
    assert await outbox.housekeeping() == (1, 0)
    assert await outbox.housekeeping() == (0, 0)  # reminded once, not every minute
    [reminder] = [c for c in store.copies(kind="notice") if c.recipient == reviewer]
    assert b"expire" in store.message(reminder.message_id).raw

    clock.now = T0 + timedelta(days=30, seconds=1)
    assert await outbox.housekeeping() == (0, 1)
    copy = store.copy(held)
    assert copy.status == "expired" and copy.decided_by == "gateway"
    [told] = [c for c in store.copies(kind="notice") if c.recipient == STAFF]
    assert b"Expired unreviewed: old one" in store.message(told.message_id).raw
    assert [e.action for e in store.audit_log(held)] == ["held", "reminded", "expired"]
    store.close()


async def test_reviewers_can_have_a_digest_instead_of_a_notice_per_hold(config, store_url):
    import dataclasses

    config = dataclasses.replace(
        config,
        notices=dataclasses.replace(config.notices, reviewers_on_hold="digest", digest_hours=4),
    )
    store = Store(store_url)
    clock = Clock()
    outbox = _outbox(config, store, free_port(), clock)
    reviewer = config.notices.reviewers[0]
    for hours, subject in ((0, "first"), (1, "second")):
        store.accept(
            Envelope(STAFF, (PARENT,)),
            mail(f"Ring me ({subject}).", subject=subject),
            [NewCopy(PARENT, "parent", "held", "rules: personal-phone")],
            subject=subject,
            at=T0 + timedelta(hours=hours),
        )

    def digests():
        return [c for c in store.copies(kind="notice") if c.recipient == reviewer]

    clock.now = T0 + timedelta(hours=3)
    await outbox.housekeeping()
    assert digests() == []  # the oldest hold is not yet a period old
    clock.now = T0 + timedelta(hours=4, seconds=1)
    await outbox.housekeeping()
    [digest] = digests()
    raw = store.message(digest.message_id).raw
    assert b"2 message(s) held" in raw and b'"first"' in raw and b'"second"' in raw
    clock.now = T0 + timedelta(hours=6)
    await outbox.housekeeping()
    assert len(digests()) == 1  # each hold is listed once
    store.close()
