"""Patterns across messages: senders' histories and the concerns log, on a real store.

A sender whose confirmed breaches reach the threshold gets one entry in the
concerns log and every safeguarding lead one notice, however many reviewers
decide at once; only leads see the log, only admins and leads the histories.
"""

from __future__ import annotations

import dataclasses
import threading

import pytest

from gateway.config.settings import ConcernSettings
from gateway.review.decisions import reject, release
from gateway.store import Envelope, NewCopy, Store
from gateway.web import create_app

from .conftest import PARENT, PHONE, STAFF, STUDENT, mail
from .test_web import _user_cli, csrf_of, login, password_hash

LEAD = "lead@heartofengland.example"
OTHER = "another.teacher@heartofengland.example"


@pytest.fixture
def store(store_url):
    s = Store(store_url)
    for name, role, email, lead in (
        ("dsl", "reviewer", "dsl@heartofengland.example", False),
        ("lead", "reviewer", LEAD, True),
        ("head", "admin", "head@heartofengland.example", False),
        ("governor", "auditor", "", False),
    ):
        s.put_user(name, role=role, email=email, password_hash=password_hash(), lead=lead)
    yield s
    s.close()


def _held(store: Store, subject: str, sender: str = STAFF, to=(PARENT,)) -> str:
    accepted = store.accept(
        Envelope(sender, tuple(to)),
        mail("Ring me on 07700 900999.", subject=subject, to=to, sender=sender),
        [NewCopy(r, "parent", "held", "rules: personal-phone", (PHONE,)) for r in to],
        subject=subject,
    )
    return accepted.message_id


def _lead_notices(store: Store) -> list:
    return [c for c in store.copies(kind="notice") if c.recipient == LEAD]


def test_the_third_confirmed_breach_opens_one_concern_and_tells_each_lead_once(config, store):
    first = _held(store, "one", to=(PARENT, STUDENT))  # two copies: one message, one breach
    reject(config, store, first, actor="dsl", reason="personal mobile")
    fine = _held(store, "fine")
    release(config, store, fine, actor="dsl", reason="the GP's number", verdict="other-person")
    other = _held(store, "other sender", sender=OTHER)
    reject(config, store, other, actor="dsl", reason="personal mobile")
    allowed = _held(store, "two")
    release(config, store, allowed, actor="dsl", reason="emergency", verdict="allowed")
    assert store.concerns() == [] and _lead_notices(store) == []
    third = _held(store, "three")
    reject(config, store, third, actor="dsl", reason="personal mobile again")

    [concern] = store.concerns()
    assert concern.sender == STAFF and concern.status == "open"
    assert set(concern.messages) == {first, allowed, third}
    assert "3 messages confirmed as breaches" in concern.summary
    [notice] = _lead_notices(store)
    raw = store.message(notice.message_id).raw
    assert STAFF.encode() in raw and b"concern" in raw
    assert not [
        c for c in store.copies(kind="notice") if c.recipient == "head@heartofengland.example"
    ]
    assert [e.detail["concern"] for e in store.audit_log(action="concern-opened")] == [concern.id]

    # The next breach is not a new pattern yet: no second entry, no second notice.
    reject(config, store, _held(store, "four"), actor="dsl", reason="and again")
    assert len(store.concerns()) == 1 and len(_lead_notices(store)) == 1


def test_no_threshold_no_concerns(config, store):
    off = dataclasses.replace(config, concerns=ConcernSettings(breaches=0))
    for n in range(4):
        reject(off, store, _held(store, f"m{n}"), actor="dsl", reason="x")
    assert store.concerns() == []


def test_concurrent_rejections_never_count_a_message_in_two_concerns(config, store_url, store):
    messages = [_held(store, f"m{n}") for n in range(10)]
    barrier = threading.Barrier(len(messages))
    errors = []

    def decide(message_id: str) -> None:
        own = Store(store_url)
        try:
            barrier.wait()
            reject(config, own, message_id, actor="dsl", reason="x")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=decide, args=(m,)) for m in messages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    concerns = store.concerns()
    listed = [m for c in concerns for m in c.messages]
    assert len(listed) == len(set(listed)) and all(len(c.messages) >= 3 for c in concerns)
    assert 1 <= len(concerns) <= 3
    assert len(_lead_notices(store)) == len(concerns)


def test_a_lead_may_not_be_an_auditor(store):
    from gateway.store import StoreError

    with pytest.raises(StoreError, match="reviewer or admin"):
        store.put_user("governor", lead=True)
    with pytest.raises(StoreError, match="reviewer or admin"):
        store.put_user("new", role="auditor", lead=True)


# -- the web app --------------------------------------------------------------


@pytest.fixture
def app(config, store):
    return create_app(config, store, secret="test-secret")


def _concern(config, store) -> int:
    for n in range(3):
        reject(config, store, _held(store, f"breach {n}"), actor="dsl", reason="personal mobile")
    [concern] = store.concerns()
    return concern.id


def test_only_leads_see_the_concerns_log_and_admins_and_leads_the_senders(app, config, store):
    _concern(config, store)
    for name, senders, concerns in (
        ("dsl", 403, 403),
        ("governor", 403, 403),
        ("head", 200, 403),
        ("lead", 200, 200),
    ):
        client = login(app, name)
        assert client.get("/senders").status_code == senders, name
        assert client.get(f"/senders/{STAFF}").status_code == senders, name
        assert client.get("/concerns").status_code == concerns, name
        assert client.get("/concerns.csv").status_code == concerns, name
    history = login(app, "head").get(f"/senders/{STAFF.upper()}").text
    assert history.count("confirmed breach") >= 3 and "breach 2" in history
    assert "In the concerns log" not in history  # the entry itself is for leads


def test_a_lead_annotates_closes_and_exports_the_log(app, config, store):
    concern = _concern(config, store)
    lead = login(app, "lead")
    page = lead.get("/concerns").text
    assert STAFF in page and "3 messages confirmed as breaches" in page
    token = csrf_of(lead, "/concerns")
    path = f"/concerns/{concern}/note"
    assert lead.post(path, data={"text": "x"}).status_code == 403  # no CSRF token
    assert lead.post(path, data={"csrf": token, "text": " "}).status_code == 400
    assert lead.post("/concerns/999/note", data={"csrf": token, "text": "x"}).status_code == 404
    assert lead.post("/concerns/abc/note", data={"csrf": token, "text": "x"}).status_code == 404
    lead.post(path, data={"csrf": token, "text": "Spoke to them; reminded of the policy."})
    lead.post(path, data={"csrf": token, "text": "Recorded on the file.", "close": "yes"})
    [after] = store.concerns()
    assert after.status == "closed" and after.closed_by == "lead"
    assert [text for _, _, text in after.notes] == [
        "Spoke to them; reminded of the policy.",
        "Recorded on the file.",
    ]
    exported = lead.get("/concerns.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "Spoke to them" in exported.text and STAFF in exported.text and "closed" in exported.text
    actions = [e.action for e in store.audit_log()]
    assert actions.count("concern-noted") == 1 and "concern-closed" in actions
    assert "exported-concerns" in actions
    head = login(app, "head")
    assert head.post(path, data={"csrf": csrf_of(head, "/queue"), "text": "x"}).status_code == 403


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the store is incidental here
def test_the_cli_makes_an_account_a_lead(store_url, store):
    done = _user_cli(store_url, "lead", "dsl", "on")
    assert done.returncode == 0, done.stderr
    assert store.user("dsl").lead
    assert _user_cli(store_url, "lead", "dsl", "off").returncode == 0
    assert not store.user("dsl").lead
    refused = _user_cli(store_url, "lead", "governor", "on")
    assert refused.returncode != 0 and "reviewer or admin" in refused.stderr
