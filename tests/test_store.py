"""The data layer, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from gateway.store import Envelope, NewCopy, Store, StoredFinding, StoreError, now_utc
from gateway.store.migrations import MIGRATIONS

from .conftest import PARENT, STAFF, mail

FINDING = StoredFinding(
    "personal-mobile",
    "personal_phone",
    "quarantine",
    "07700 900999",
    "body",
    "new",
    False,
    "mobile",
    "ring me on 07700 900999 tonight",
)


def _hold(store: Store, raw: bytes, recipient: str = PARENT):
    env = Envelope(
        STAFF,
        (recipient, "colleague@heartofengland.example"),
        ("BODY=8BITMIME",),
        "127.0.0.1",
        "mx.school",
    )
    return store.accept(
        env,
        raw,
        [NewCopy(recipient, "parent", "held", "policy", (FINDING,))],
        subject="Trip",
        header_message_id="<a@b>",
    )


def test_schema_is_migrated_once_and_versioned(store_url):
    store = Store(store_url)
    assert store.schema_version() == MIGRATIONS[-1].version
    store.close()
    again = Store(store_url)  # reopening applies nothing twice (a second CREATE TABLE would fail)
    assert again.schema_version() == MIGRATIONS[-1].version
    again.close()


def test_held_copy_keeps_exact_bytes_envelope_and_findings(store_url):
    store = Store(store_url)
    raw = mail("Ring me on 07700 900999.") + b"\r\n8-bit: caf\xe9 and a bare\nline\x00"
    accepted = _hold(store, raw)
    assert accepted.new
    [copy] = store.copies("held")
    assert copy.id == accepted.copy_ids[PARENT]
    assert (copy.recipient, copy.recipient_class, copy.status, copy.mail_from) == (
        PARENT,
        "parent",
        "held",
        STAFF,
    )
    assert copy.findings == (FINDING,)
    message = store.message(accepted.message_id)
    assert message.raw == raw
    assert message.envelope.rcpt_tos == (PARENT, "colleague@heartofengland.example")
    assert message.envelope.mail_options == ("BODY=8BITMIME",)
    assert message.subject == "Trip"
    assert [e.action for e in store.audit_log(copy.id)] == ["held"]
    store.close()


def test_a_retry_of_the_same_message_holds_nothing_twice(store_url):
    store = Store(store_url)
    raw = mail("Ring me on 07700 900999.")
    first, second = _hold(store, raw), _hold(store, raw)
    assert not second.new
    assert (second.message_id, second.copy_ids) == (first.message_id, first.copy_ids)
    assert len(store.copies()) == 1
    assert len(store.audit_log()) == 1
    assert len(store.copy(first.copy_ids[PARENT]).findings) == 1
    # A different message from the same sender is a new one.
    assert _hold(store, mail("Another day.")).message_id != first.message_id
    store.close()


def test_concurrent_retries_from_several_threads_end_with_one_copy(store_url):
    store = Store(store_url)
    raw = mail("Ring me on 07700 900999.")
    results, errors = [], []

    def hold():
        try:
            results.append(_hold(store, raw))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=hold) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.message_id for r in results}) == 1
    assert sum(r.new for r in results) == 1
    assert len(store.copies()) == 1
    store.close()


def test_audit_table_refuses_update_and_delete(store_url):
    store = Store(store_url)
    _hold(store, mail("x"))
    for sql in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit"):
        with pytest.raises(StoreError, match="append-only"), store._tx() as cur:
            cur.execute(sql)
    assert [e.actor for e in store.audit_log()] == ["gateway"]
    store.close()


def test_queued_copy_is_claimed_by_one_worker_until_its_lease_ends(store_url):
    store = Store(store_url)
    env = Envelope(STAFF, (PARENT,))
    at = now_utc()
    accepted = store.accept(
        env, mail("x"), [NewCopy(PARENT, "parent", "queued", "next hop deferred")], at=at
    )
    copy_id = accepted.copy_ids[PARENT]
    lease = timedelta(minutes=5)
    assert [c.id for c in store.claim_due(at, lease)] == [copy_id]
    assert store.claim_due(at, lease) == []  # the lease keeps a second worker off it
    again = store.claim_due(
        at + lease + timedelta(seconds=1), lease
    )  # its worker died before DATA: claimable again, and not a duplicate
    assert [c.id for c in again] == [copy_id] and again[0].attempts == 2
    assert not again[0].possible_duplicate
    store.sending(copy_id)  # this worker gets as far as DATA, then dies
    later = at + 2 * lease + timedelta(seconds=2)
    [third] = store.claim_due(later, lease)
    assert third.attempts == 3
    assert store.settle(copy_id, "delivered", "250 2.0.0 Ok")
    assert not store.settle(copy_id, "failed", "late")  # only a queued copy can settle
    assert store.copy(copy_id).status == "delivered"
    assert [e.action for e in store.audit_log(copy_id)] == [
        "queued",
        "possible-duplicate",
        "delivered",
    ]
    assert store.copy(copy_id).possible_duplicate  # the second attempt sent DATA, never settled
    assert store.counts()["delivered"] == 1
    store.close()


def test_a_deferral_after_data_without_an_answer_marks_a_possible_duplicate(store_url):
    store = Store(store_url)
    at = now_utc()
    accepted = store.accept(
        Envelope(STAFF, (PARENT,)), mail("y"), [NewCopy(PARENT, "parent", "queued", "later")], at=at
    )
    copy_id = accepted.copy_ids[PARENT]
    store.claim_due(at, timedelta(minutes=5))
    store.settle(copy_id, "deferred", "451 busy", next_attempt_at=at)  # refused before DATA
    assert not store.copy(copy_id).possible_duplicate
    store.claim_due(at, timedelta(minutes=5))
    store.sending(copy_id)
    store.settle(copy_id, "deferred", "timeout", next_attempt_at=at, possible_duplicate=True)
    assert store.copy(copy_id).possible_duplicate
    assert [e.action for e in store.audit_log(copy_id)][-2:] == ["possible-duplicate", "deferred"]
    [again] = store.claim_due(at, timedelta(minutes=5))  # settled: not marked a second time
    assert [e.action for e in store.audit_log(copy_id)].count("possible-duplicate") == 1
    store.close()


def test_concurrent_claims_never_hand_out_a_copy_twice(store_url):
    store = Store(store_url)
    at = now_utc()
    for i in range(20):
        store.accept(
            Envelope(STAFF, (PARENT,)),
            mail(f"m{i}"),
            [NewCopy(PARENT, "parent", "queued", "later")],
            at=at,
        )
    got: list[int] = []
    lock = threading.Lock()

    def claim():
        # Until this worker finds nothing left: a copy another worker is
        # claiming is skipped, and that worker takes it.
        while ids := [c.id for c in store.claim_due(at, timedelta(minutes=5), limit=3)]:
            with lock:
                got.extend(ids)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(set(got))
    assert len(got) == 20
    store.close()


def test_unknown_status_and_bad_url_give_clear_errors(tmp_path):
    with pytest.raises(StoreError, match="neither sqlite"):
        Store("mysql://x")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(StoreError, match="unknown status 'lost'"):
        store.copies("lost")
    store.close()


def test_the_embedded_store_is_readable_by_its_owner_alone(tmp_path):
    import stat

    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # made by hand, or by an older version
    data.chmod(0o755)
    store = Store(f"sqlite:///{data / 'chaperone.db'}")
    store.accept(
        Envelope("t@school.example", ("p@home.example",)),
        b"Subject: x\r\n\r\nhi\r\n",
        [NewCopy("p@home.example", "parent", "held", "test")],
    )
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("chaperone.db", "chaperone.db-wal", "chaperone.db-shm"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    store.close()
