"""Who decides: real accounts only, never on their own mail, however it is addressed."""

from __future__ import annotations

import pytest

from gateway.review.decisions import DecisionError, NotYoursToDecide, reject, release
from gateway.store import Envelope, NewCopy, Store, StoreError

from .conftest import PARENT, PHONE, STAFF, mail
from .relay_env import GatewayProcess, Sink
from .test_relay import DIRTY, send
from .test_relay import mail as smtp_mail


def _held(store: Store, envelope_from: str, **headers: str) -> int:
    sender = headers.pop("From", f"Tess Teacher <{envelope_from}>")
    raw = mail(
        "Ring me on 07700 900999.",
        sender=sender,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )
    return store.accept(
        Envelope(envelope_from, (PARENT,)),
        raw,
        [NewCopy(PARENT, "parent", "held", "rules: personal-phone", (PHONE,))],
    ).copy_ids[PARENT]


@pytest.mark.parametrize(
    "envelope_from, headers",
    [
        ("t.teacher@mail.heartofengland.example", {}),  # a sub-domain of the school's
        ("T.Teacher+trips@heartofengland.example", {}),  # a +tag, and capitals
        ("office@heartofengland.example", {"From": "Tess <t.teacher@heartofengland.example>"}),
        ("office@heartofengland.example", {"Sender": "t.teacher@heartofengland.example"}),
        ("office@heartofengland.example", {"Reply_To": "t.teacher+x@mail.heartofengland.example"}),
    ],
)
def test_a_reviewer_cannot_decide_on_their_own_mail_however_it_is_addressed(
    config, store_url, envelope_from, headers
):
    store = Store(store_url)
    store.put_user("tess", role="reviewer", email=STAFF)
    copy_id = _held(store, envelope_from, **headers)
    with pytest.raises(NotYoursToDecide):
        release(config, store, str(copy_id), actor="tess", reason="mine, but fine")
    with pytest.raises(NotYoursToDecide):
        reject(config, store, str(copy_id), actor="tess", reason="mine")
    assert store.copy(copy_id).status == "held"
    store.close()


def test_another_reviewer_may_decide_on_it(config, store_url):
    store = Store(store_url)
    store.put_user("dsl", role="reviewer", email="dsl@heartofengland.example")
    copy_id = _held(store, "t.teacher+trips@mail.heartofengland.example")
    [result] = release(config, store, str(copy_id), actor="dsl", reason="agreed")
    assert result.changed
    store.close()


def test_only_reviewer_accounts_with_an_address_decide(config, store_url):
    store = Store(store_url)
    with pytest.raises(StoreError, match="needs an e-mail address"):
        store.put_user("nomail", role="reviewer", email="")
    store.put_user("governor", role="auditor", email="")
    copy_id = _held(store, STAFF)
    with pytest.raises(DecisionError, match="no enabled account 'anybody'"):
        release(config, store, str(copy_id), actor="anybody", reason="typed a name")
    with pytest.raises(DecisionError, match="only reviewers and admins decide"):
        release(config, store, str(copy_id), actor="governor", reason="not mine to decide")
    assert store.copy(copy_id).status == "held"
    store.close()


def test_the_cli_decides_as_a_proven_account_never_a_typed_name(tmp_path):
    import getpass

    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink).start()
    try:
        send(g, smtp_mail(DIRTY, to=(PARENT,), subject="who-1"), [PARENT])
        [held] = [c for c in g.copies("held") if c["subject"] == "who-1"]
        copy = str(held["id"])
        no_email = g.cli("user", "add", "nomail", "--role", "reviewer")
        assert no_email.returncode != 0 and "needs an e-mail address" in no_email.stderr
        g.add_reviewer()
        # A typed name, no password: refused, and nothing changes.
        typed = g.cli("quarantine", "release", copy, "--reason", "ok", "--as", "dsl")
        assert typed.returncode != 0 and "password" in typed.stderr
        wrong = g.cli(
            "quarantine",
            *("release", copy, "--reason", "ok", "--as", "dsl"),
            env={"CHAPERONE_PASSWORD": "not the password"},
        )
        assert wrong.returncode != 0 and "wrong password" in wrong.stderr
        # Guessing is limited as at the web's login: after five, even the right one waits.
        for _ in range(4):
            g.cli(
                "quarantine",
                "release",
                copy,
                "--reason",
                "ok",
                "--as",
                "dsl",
                env={"CHAPERONE_PASSWORD": "not the password"},
            )
        locked = g.decide("release", copy, "--reason", "ok")
        assert locked.returncode != 0 and "too many wrong passwords" in locked.stderr
        unmapped = g.cli("quarantine", "release", copy, "--reason", "ok")
        assert unmapped.returncode != 0 and "no account is mapped" in unmapped.stderr
        assert [c["status"] for c in g.copies() if c["id"] == held["id"]] == ["held"]
        # The operating-system user mapped to an account decides as it, without --as.
        g.add_reviewer("deputy", "deputy@heartofengland.example", "--os-user", getpass.getuser())
        done = g.cli("quarantine", "release", copy, "--reason", "agreed")
        assert done.returncode == 0, done.stderr
        [after] = [c for c in g.copies() if c["id"] == held["id"]]
        assert after["decision"]["by"] == "deputy"
    finally:
        g.stop()
        sink.stop()
