"""Two-person releases and the exceptions approved with them, decided in a real store."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from gateway.review.decisions import DecisionError, release, release_with_exception
from gateway.store import Envelope, NewCopy, Store, StoredFinding

from .conftest import PARENT, PHONE, STAFF, mail

SECRECY = StoredFinding(
    "dont-tell",
    "secrecy",
    "quarantine",
    "don't tell your mum",
    "body",
    "new",
    False,
    "phrase",
    "don't tell your mum about this",
)


def _reviewers(url: str) -> Store:
    store = Store(url)
    for name in ("dsl", "head"):
        store.put_user(name, role="reviewer", email=f"{name}@heartofengland.example")
    return store


def _held(store: Store, subject: str, *findings: StoredFinding) -> int:
    return store.accept(
        Envelope(STAFF, (PARENT,)),
        mail(f"Ring me on 07700 900999. Don't tell your mum. {subject}", subject=subject),
        [NewCopy(PARENT, "parent", "held", "rules", findings)],
        subject=subject,
    ).copy_ids[PARENT]


def _phone_finding(store: Store, copy_id: int) -> int:
    copy = store.copy(copy_id)
    assert copy is not None
    [index] = [i for i, f in enumerate(copy.findings) if f.rule == "personal-phone"]
    return index


def _release_at_once(config, store: Store, copy_id: int, reviewers: tuple[str, ...]) -> list:
    """Each reviewer releases the copy from their own thread (and connection), all at once."""
    start = threading.Barrier(len(reviewers))
    results, errors = [], []

    def reviewer(name: str) -> None:
        start.wait()
        try:
            results.extend(release(config, store, str(copy_id), actor=name, reason="agreed"))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_two_reviewers_releasing_at_the_same_instant_release_the_copy(config, store_url):
    """Each of twelve two-person copies gets two releases at once: the store counts
    them in one transaction, so every copy ends released, once."""
    assert "secrecy" in config.relay.two_person_categories
    store = _reviewers(store_url)
    for n in range(12):
        copy_id = _held(store, f"race-{n}", SECRECY)
        results = _release_at_once(config, store, copy_id, ("dsl", "head"))
        assert sorted((r.changed, r.awaiting_second) for r in results) == [
            (False, True),
            (True, False),
        ]
        assert store.copy(copy_id).status == "released"
        assert len(store.audit_log(copy_id, action="released")) == 1
        assert len(store.audit_log(copy_id, action="release-approved")) == 1
    store.close()


def test_the_same_reviewer_twice_does_not_release_a_two_person_copy(config, store_url):
    store = _reviewers(store_url)
    copy_id = _held(store, "twice", SECRECY)
    release(config, store, str(copy_id), actor="dsl", reason="fine")
    try:
        release(config, store, str(copy_id), actor="dsl", reason="fine again")
        raise AssertionError("the same reviewer released a two-person copy alone")
    except DecisionError as exc:
        assert "second, different reviewer" in str(exc)
    assert store.copy(copy_id).status == "held"
    assert store.release_approvals(copy_id) == ["dsl"]
    store.close()


def test_an_exception_from_a_two_person_copy_waits_for_the_second_reviewer(config, store_url):
    store = _reviewers(store_url)
    copy_id = _held(store, "secret number", SECRECY, PHONE)
    [first] = release_with_exception(
        config,
        store,
        copy_id,
        actor="dsl",
        reason="trip mobile",
        finding=_phone_finding(store, copy_id),
        scope="sender",
        until=date.today() + timedelta(days=10),
    )
    assert first.awaiting_second and store.copy(copy_id).status == "held"
    assert store.exceptions() == []  # not in force while the copy waits
    assert [p["value"] for p in store.proposed_exceptions(copy_id)] == ["+447700900999"]
    [second] = release(config, store, str(copy_id), actor="head", reason="agreed")
    assert second.changed and store.copy(copy_id).status == "released"
    [exception] = store.exceptions()
    assert (exception["value"], exception["senders"]) == ("+447700900999", [STAFF])
    assert second.exceptions == (exception["id"],)
    assert store.proposed_exceptions(copy_id) == []
    store.close()


def test_an_exception_for_all_staff_needs_a_second_reviewer(config, store_url):
    """Even on a copy that one reviewer may release: an all-staff exception is
    proposed, and the copy and the exception wait for another reviewer."""
    store = _reviewers(store_url)
    copy_id = _held(store, "everyone", PHONE)
    for scope, actor in (("anyone", "dsl"), ("anyone", "dsl")):
        try:
            results = release_with_exception(
                config,
                store,
                copy_id,
                actor=actor,
                reason="school trip phone",
                finding=_phone_finding(store, copy_id),
                scope=scope,
                until=date.today() + timedelta(days=10),
            )
        except DecisionError as exc:  # the second time: the same reviewer
            assert "second, different reviewer" in str(exc)
        else:
            assert [r.awaiting_second for r in results] == [True]
        assert store.exceptions() == [] and store.copy(copy_id).status == "held"
    [done] = release(config, store, str(copy_id), actor="head", reason="yes, the trip phone")
    assert done.changed
    [exception] = store.exceptions()
    assert (exception["value"], exception["senders"]) == ("+447700900999", [])
    store.close()


def test_an_all_staff_exception_proposed_after_the_first_approval_needs_another(config, store_url):
    """The first reviewer's approval came before the exception was asked for, so it
    does not approve the exception: that reviewer (or a third) must approve again."""
    store = _reviewers(store_url)
    copy_id = _held(store, "late proposal", SECRECY, PHONE)
    release(config, store, str(copy_id), actor="dsl", reason="fine")
    [proposed] = release_with_exception(
        config,
        store,
        copy_id,
        actor="head",
        reason="and for everyone",
        finding=_phone_finding(store, copy_id),
        scope="anyone",
        until=date.today() + timedelta(days=10),
    )
    assert proposed.awaiting_second and store.exceptions() == []
    [done] = release(config, store, str(copy_id), actor="dsl", reason="seen the exception too")
    assert done.changed and len(store.exceptions()) == 1
    store.close()


def test_quarantine_show_says_who_approved_and_what_waits(config, store_url, capsys):
    from gateway.cli.quarantine import _show_one

    store = _reviewers(store_url)
    copy_id = _held(store, "shown", SECRECY, PHONE)
    release_with_exception(
        config,
        store,
        copy_id,
        actor="dsl",
        reason="trip mobile",
        finding=_phone_finding(store, copy_id),
        scope="sender",
        until=date.today() + timedelta(days=10),
    )
    _show_one(config, store, copy_id)
    out = capsys.readouterr().out
    assert "approved   for release by dsl; waiting for another reviewer" in out
    assert "proposed   exception for phone +447700900999" in out and "by dsl" in out
    store.close()


def test_a_queue_id_of_decimal_digits_only_is_a_queue_id_not_a_copy_id(config, store_url):
    # Twelve hex digits are all decimal now and then (about once in 300 messages).
    store = _reviewers(store_url)
    try:
        accepted = store.accept(
            Envelope(STAFF, (PARENT,)),
            mail("Ring me on 07700 900999.", subject="digits"),
            [NewCopy(PARENT, "parent", "held", "rules", (PHONE,))],
            subject="digits",
            queue_id="868633200308",
        )
        [done] = release(config, store, "868633200308", actor="dsl", reason="checked")
        assert done.copy_id == accepted.copy_ids[PARENT] and done.changed
        with pytest.raises(DecisionError, match="nothing to decide"):
            release(config, store, "²", actor="dsl", reason="x")
    finally:
        store.close()
