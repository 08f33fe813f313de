"""The approved register: the configuration's details and the store's exceptions, added,
edited and ended by admins, audited, and followed by a running gateway within seconds."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from gateway.config import with_exceptions
from gateway.judge.scan import Scanner
from gateway.mail import now_utc
from gateway.review import register
from gateway.store import Store
from gateway.web import create_app

from .conftest import PARENT, STAFF, mail
from .relay_env import GatewayProcess, Sink
from .test_relay import send
from .test_web import csrf_of, login, password_hash

NUMBER = "The trip phone is 07700 900456."


@pytest.fixture
def store(store_url):
    s = Store(store_url)
    for name, role, email in (
        ("dsl", "reviewer", "dsl@heartofengland.example"),
        ("head", "admin", "head@heartofengland.example"),
    ):
        s.put_user(name, role=role, email=email, password_hash=password_hash())
    yield s
    s.close()


def _day(config, days: int) -> str:
    return (now_utc().astimezone(config.timezone).date() + timedelta(days=days)).isoformat()


def _add(config, store, **kw) -> int:
    values = {
        "kind": "phone",
        "value": "07700 900 456",
        "label": "Year 9 trip mobile",
        "senders": STAFF,
        "recipients": "",
        "until": _day(config, 30),
        "reason": "the trip to York",
        **kw,
    }
    return register.add(config, store, user=store.user("head"), **values)


def _held(config, store) -> bool:
    scanner = Scanner(with_exceptions(config, store.exceptions()))
    return scanner.scan(mail(NUMBER), at=now_utc()).recipients[PARENT] == "quarantine"


def test_an_admin_adds_edits_and_ends_an_exception_and_each_is_audited(config, store):
    assert _held(config, store)
    version = store.exceptions_version()
    new = _add(config, store)
    [row] = store.exceptions()
    assert (
        row["value"] == "+447700900456" and row["senders"] == [STAFF] and row["added_by"] == "head"
    )
    assert not _held(config, store) and store.exceptions_version() > version
    version = store.exceptions_version()
    register.edit(
        config,
        store,
        new,
        user=store.user("head"),
        label="Year 9 trip mobile (York)",
        senders="",
        recipients="",
        until=_day(config, 3),
        reason="for all staff on the trip",
    )
    assert store.exceptions_version() > version
    [entry] = [e for e in register.entries(config, store) if e.exception]
    assert entry.senders == () and entry.state(now_utc()) == "expiring"  # within a week
    version = store.exceptions_version()
    register.end(store, new, user=store.user("head"), reason="the trip is over")
    assert store.exceptions_version() > version and _held(config, store)
    [entry] = [e for e in register.entries(config, store) if e.exception]
    assert entry.state(now_utc()) == "ended" and entry.exception["ended_by"] == "head"
    [changed] = store.audit_log(action="exception-changed")
    assert (
        changed.detail["before"]["senders"] == [STAFF] and changed.detail["after"]["senders"] == []
    )
    [ended] = store.audit_log(action="exception-ended")
    assert ended.detail["reason"] == "the trip is over"
    with pytest.raises(register.RegisterError, match="no exception .* in force"):
        register.end(store, new, user=store.user("head"), reason="again")


def test_the_configurations_details_are_listed_as_from_the_file(config, store):
    from_file = [e for e in register.entries(config, store) if e.source == "gateway.toml"]
    assert from_file and {e.value for e in from_file} == {a.value for a in config.approved}
    assert all(e.exception is None for e in from_file)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"kind": "fax"}, "the kind is one of"),
        ({"value": "not a number"}, "is not a phone"),
        ({"reason": " "}, "the reason"),
        ({"until": "2099-01-01"}, "within the next year"),
        ({"until": "soon"}, "a date such as"),
        ({"senders": "tess"}, "not an e-mail address"),
    ],
)
def test_a_bad_exception_is_refused_with_what_is_wrong(config, store, change, message):
    with pytest.raises(register.RegisterError, match=message):
        _add(config, store, **change)
    assert store.exceptions() == []


def test_only_admins_change_the_register(config, store):
    with pytest.raises(register.RegisterError, match="cannot change"):
        register.add(
            config,
            store,
            user=store.user("dsl"),
            kind="phone",
            value="07700 900456",
            label="x",
            senders="",
            recipients="",
            until=_day(config, 3),
            reason="x",
        )


def test_the_register_page_lists_flags_and_changes_by_role(config, store):
    app = create_app(config, store, secret="test-secret")
    reviewer = login(app, "dsl")
    assert reviewer.get("/approved").status_code == 403  # an admin page
    store.put_user("dsl", lead=True)  # a safeguarding lead reads it, and changes nothing
    reviewer = login(app, "dsl")
    assert reviewer.get("/approved").status_code == 200
    assert 'action="/approved/add"' not in reviewer.get("/approved").text
    token = csrf_of(reviewer, "/approved")
    form = {
        "csrf": token,
        "kind": "phone",
        "value": "07700 900456",
        "label": "trip mobile",
        "until": _day(config, 5),
        "reason": "trip",
    }
    assert reviewer.post("/approved/add", data=form).status_code == 403
    admin = login(app, "head")
    form["csrf"] = csrf_of(admin, "/approved")
    assert admin.post("/approved/add", data={**form, "value": "nope"}).status_code == 400
    assert admin.post("/approved/add", data=form).status_code == 303
    [row] = store.exceptions()
    page = admin.get("/approved").text
    assert f'<tr class="expiring" id="exception-{row["id"]}">' in page and "+447700900456" in page
    ended = admin.post(f"/approved/{row['id']}/end", data={"csrf": form["csrf"], "reason": "done"})
    assert ended.status_code == 303 and store.exceptions()[0]["ended_by"] == "head"
    assert (
        admin.post("/approved/xyz/end", data={"csrf": form["csrf"], "reason": "x"}).status_code
        == 404
    )


def test_a_running_gateway_follows_an_exception_added_and_ended_in_the_register(tmp_path, config):
    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink).start()
    store = Store(f"sqlite:///{g.data_dir / 'chaperone.db'}")
    try:
        store.put_user("head", role="admin", email="head@heartofengland.example")
        new = _add(config, store)

        def reloads(n: int) -> None:
            deadline = time.monotonic() + 10
            while (
                g.log().count("the approved exceptions changed") < n and time.monotonic() < deadline
            ):
                time.sleep(0.1)
            assert g.log().count("the approved exceptions changed") >= n

        reloads(1)
        send(g, mail(NUMBER, subject="approved"), [PARENT])
        assert sink.wait_for_text(PARENT, b"approved")
        register.end(store, new, user=store.user("head"), reason="trip over")
        reloads(2)
        send(g, mail(NUMBER, subject="ended"), [PARENT])
        assert "ended" in [c["subject"] for c in g.copies("held")]
    finally:
        store.close()
        g.stop()
        sink.stop()
