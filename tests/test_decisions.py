"""Reviewer decisions and notices, with the gateway as a process, a real next hop and a real database."""

from __future__ import annotations

import email
import email.policy
import threading
import time

import psycopg
import pytest

from gateway.config import load_config
from gateway.review.decisions import DecisionError, release
from gateway.store import Store

from .conftest import PARENT, STAFF
from .relay_env import GatewayProcess, Sink
from .test_relay import DIRTY, mail, send

DSL = "dsl@heartofengland.example"


@pytest.fixture
def sink():
    s = Sink().start()
    yield s
    s.stop()


def _held(g: GatewayProcess, subject: str) -> dict:
    send(g, mail(DIRTY, to=(PARENT,), subject=subject), [PARENT])
    [held] = [c for c in g.copies("held") if c["subject"] == subject]
    return held


def test_hold_tells_the_sender_and_the_reviewer(sink, tmp_path):
    g = GatewayProcess(tmp_path, sink).start()
    try:
        _held(g, "notice-1")
        [to_sender] = sink.wait_for_text(STAFF, b"Held for review: notice-1")
        text = (
            email.message_from_bytes(to_sender.data, policy=email.policy.default)
            .get_body(("plain",))
            .get_content()
        )
        assert "07700 900999" in text and "personal phone" in text  # the evidence and the category
        assert (
            "Policy: They should not give their personal contact details" in text
        )  # the clause, quoted
        assert "What happens next" in text
        assert to_sender.mail_from == "<>"  # a notice never bounces back
        [to_dsl] = sink.wait_for_text(DSL, b"notice-1")
        assert b"gateway quarantine show" in to_dsl.data
        # A client retrying the same message tells nobody twice.
        send(g, mail(DIRTY, to=(PARENT,), subject="notice-1"), [PARENT])
        time.sleep(1.5)
        assert len([m for m in sink.to(STAFF) if b"Held for review: notice-1" in m.data]) == 1
    finally:
        g.stop()


def test_release_delivers_the_exact_held_bytes_once_with_one_release_line(sink, tmp_path):
    g = GatewayProcess(tmp_path, sink).start()
    try:
        raw = mail(DIRTY, to=(PARENT,), subject="release-1")
        send(g, raw, [PARENT])
        [held] = g.copies("held")
        g.add_reviewer()
        g.add_reviewer("deputy", "deputy@heartofengland.example")
        done = g.decide("release", str(held["id"]), "--reason", "trip mobile, agreed with SLT")
        assert done.returncode == 0 and "released" in done.stdout, done.stderr
        [got] = sink.wait_for_text(PARENT, b"release-1")
        assert got.data.endswith(raw)
        head = got.data[: len(got.data) - len(raw)]
        assert head.count(b"Received:") == 1 and b"released after review" in head
        again = g.decide("release", str(held["id"]), "--reason", "again", as_user="deputy")
        assert "unchanged, already" in again.stdout
        deadline = time.monotonic() + 10
        while g.copies("delivered") == [] and time.monotonic() < deadline:
            time.sleep(0.1)
        [delivered] = g.copies("delivered")
        assert (
            delivered["decision"]["by"] == "dsl"
            and delivered["decision"]["reason"] == "trip mobile, agreed with SLT"
        )
        assert sink.wait_for_text(STAFF, b"Released: release-1")
        time.sleep(1)
        assert len(sink.to(PARENT)) == 1  # released mail is not held again, and goes once
    finally:
        g.stop()


def test_reject_never_delivers_and_tells_the_sender_in_the_reviewers_words(sink, tmp_path):
    g = GatewayProcess(tmp_path, sink).start()
    try:
        held = _held(g, "reject-1")
        g.add_reviewer()
        g.add_reviewer("deputy", "deputy@heartofengland.example")
        done = g.decide(
            "reject",
            held["message"],
            "--reason",
            "personal mobile",
            "--tell-sender",
            "Please use the school's trip phone: 0121 496 0000.",
        )
        assert done.returncode == 0, done.stderr
        [notice] = sink.wait_for_text(STAFF, b"Not delivered: reject-1")
        assert b"Please use the school's trip phone" in notice.data
        assert [c["status"] for c in g.copies() if c["subject"] == "reject-1"] == ["rejected"]
        assert (
            g.decide("release", str(held["id"]), "--reason", "x", as_user="deputy").stdout.count(
                "unchanged, already rejected"
            )
            == 1
        )
        time.sleep(1)
        assert not any(b"reject-1" in m.data for m in sink.to(PARENT))
    finally:
        g.stop()


def test_a_decision_needs_a_reason_and_a_reviewer(sink, tmp_path):
    g = GatewayProcess(tmp_path, sink).start()
    try:
        held = _held(g, "reason-1")
        config = load_config(g.config_path)
        store = Store(f"sqlite:///{g.data_dir / 'chaperone.db'}")
        with pytest.raises(DecisionError, match="no enabled account 'dsl'"):
            release(config, store, str(held["id"]), actor="dsl", reason="ok")
        store.put_user("dsl", role="reviewer", email=DSL)
        with pytest.raises(DecisionError, match="reason is required"):
            release(config, store, str(held["id"]), actor="dsl", reason=" ")
        with pytest.raises(DecisionError, match="who is deciding"):
            release(config, store, str(held["id"]), actor="", reason="ok")
        with pytest.raises(DecisionError, match="nothing to decide"):
            release(config, store, "999999", actor="dsl", reason="ok")
        store.close()
    finally:
        g.stop()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_fifty_concurrent_releases_deliver_once(sink, tmp_path, request, database):
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else ""
    g = GatewayProcess(tmp_path, sink, store_url=url).start()
    try:
        held = _held(g, "race-1")
        config = load_config(g.config_path)
        store = Store(url or f"sqlite:///{g.data_dir / 'chaperone.db'}")
        for n in range(50):
            store.put_user(f"reviewer{n}", role="reviewer", email=f"r{n}@heartofengland.example")
        results, errors = [], []

        def reviewer(n: int) -> None:
            try:
                results.extend(
                    release(config, store, str(held["id"]), actor=f"reviewer{n}", reason="race")
                )
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sum(r.changed for r in results) == 1
        sink.wait_for_text(PARENT, b"race-1")
        time.sleep(2)
        assert len([m for m in sink.to(PARENT) if b"race-1" in m.data]) == 1
        released = [e for e in store.audit_log(held["id"]) if e.action == "released"]
        assert len(released) == 1
        store.close()
    finally:
        g.stop()


def test_a_subject_cannot_add_a_header_to_a_notice(sink, tmp_path):
    g = GatewayProcess(tmp_path, sink).start()
    try:
        raw = mail(DIRTY, to=(PARENT,), subject="inject").replace(
            b"Subject: inject", b"Subject: =?utf-8?q?inject=0D=0ABcc:_victim@elsewhere.example?="
        )
        send(g, raw, [PARENT])
        [notice] = sink.wait_for_text(STAFF, b"Held for review")
        parsed = email.message_from_bytes(notice.data, policy=email.policy.default)
        assert parsed["Bcc"] is None and len(parsed.get_all("Subject")) == 1
        assert "victim@elsewhere.example" in parsed["Subject"]  # kept as text, on one line
        assert sink.to("victim@elsewhere.example") == []
    finally:
        g.stop()


def test_database_unavailable_at_smtp_time_answers_4xx_and_loses_nothing(
    sink, tmp_path, postgres_url, postgres_server
):
    g = GatewayProcess(tmp_path, sink, store_url=postgres_url).start()
    name = postgres_url.rsplit("/", 1)[1]
    try:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
        raw = mail(DIRTY, to=(PARENT,), subject="db-down")
        with pytest.raises(Exception) as deferred:
            send(g, raw, [PARENT])
        assert getattr(deferred.value, "smtp_code", None) == 451
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert send(g, raw, [PARENT]) == {}  # the client's retry, once the database is back
        assert [c["subject"] for c in g.copies("held")] == ["db-down"]
    finally:
        g.stop()


def test_kill_9_during_delivery_marks_only_the_copy_that_was_being_sent(tmp_path):
    """Three released copies are claimed in one batch; the gateway dies while the
    first is in DATA. Only that one may have reached the next hop, so only it is
    delivered again marked a possible duplicate; the two never sent are not."""
    parents = [PARENT, "parent.two@gmail.com", "parent.three@gmail.com"]
    sink = Sink(delay=2.0).start()  # the next hop takes 2 s to answer DATA
    g = GatewayProcess(tmp_path, sink, lease=3).start()
    try:
        send(g, mail(DIRTY, to=tuple(parents), subject="k9-release"), parents)
        held = [c for c in g.copies("held") if c["subject"] == "k9-release"]
        assert len(held) == 3
        g.stop()  # released while the gateway is down, so its outbox claims all three at once
        queue_id = held[0]["message"]
        g.add_reviewer()
        assert g.decide("release", queue_id, "--reason", "ok").returncode == 0
        g.start()
        deadline = time.monotonic() + 10
        while not set(parents) & set(sink.data_started) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the outbox has sent one copy and waits for the answer
        [first] = [r for r in sink.data_started if r in parents]
        g.kill9()
        g.start()  # same data directory; the dead attempt's lease runs out after 3 s
        deadline = time.monotonic() + 30
        while len(g.copies("delivered")) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        delivered = {c["recipient"]: c for c in g.copies("delivered")}
        assert sorted(delivered) == sorted(parents)
        assert [r for r, c in delivered.items() if c.get("possible_duplicate")] == [first]
        assert (
            "possible duplicate" in g.cli("quarantine", "show", str(delivered[first]["id"])).stdout
        )
        others = [r for r in parents if r != first]
        assert all(
            "possible duplicate" not in g.cli("quarantine", "show", str(delivered[r]["id"])).stdout
            for r in others
        )
        copies_at_sink = [m for m in sink.to(first) if b"k9-release" in m.data]
        assert (
            1 <= len(copies_at_sink) <= 2
        )  # at least once; the duplicate is bounded by the one crash
        assert any(
            r.get("event") == "delivery" and r.get("possible_duplicate") for r in g.log_records()
        )
    finally:
        g.stop()
        sink.stop()


def test_a_next_hop_answering_after_the_timeout_marks_the_copy_a_possible_duplicate(tmp_path):
    """The next hop stores the released copy but answers after the gateway's timeout:
    the parent may get it twice, and the copy says so in the CLI and the web app."""
    sink = Sink(answer_delay=3.0).start()
    g = GatewayProcess(tmp_path, sink, next_hop_timeout=1).start()
    try:
        held = _held(g, "late-answer")
        g.add_reviewer()
        assert g.decide("release", str(held["id"]), "--reason", "ok").returncode == 0
        sink.wait_for_text(PARENT, b"late-answer")  # stored, though the answer will come late
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            [copy] = [c for c in g.copies() if c["id"] == held["id"]]
            if copy.get("possible_duplicate"):
                break
            time.sleep(0.2)
        assert copy.get("possible_duplicate") is True
        assert "possible duplicate" in g.cli("quarantine", "show", str(held["id"])).stdout
        store = Store(f"sqlite:///{g.data_dir / 'chaperone.db'}")
        assert [e.detail["why"] for e in store.audit_log(held["id"], action="possible-duplicate")][
            :1
        ] == ["the next hop gave no answer after DATA; it may have the copy"]
        store.close()
    finally:
        g.stop()
        sink.stop()


def test_notice_templates_fill_html_with_escaped_values(config):
    from datetime import UTC, datetime

    from gateway.review.notices import decision_notice

    notice = decision_notice(
        config,
        decision="rejected",
        sender=STAFF,
        recipient=PARENT,
        subject="<b>Trip</b>",
        queue_id="ABC",
        reviewer="dsl",
        note="<script>alert(1)</script> Use the trip phone.",
        at=datetime(2026, 11, 24, tzinfo=UTC),
    )
    parsed = email.message_from_bytes(notice.raw, policy=email.policy.default)
    html_part = parsed.get_body(("html",)).get_content()
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; Use the trip phone." in html_part
        and "<script>" not in html_part
    )
    assert "<blockquote" in html_part  # the school's own HTML template, not the text fallback
    assert (
        "<script>alert(1)</script> Use the trip phone." in parsed.get_body(("plain",)).get_content()
    )


def test_an_exception_added_on_review_reaches_the_running_gateway(sink, tmp_path):
    from datetime import date, timedelta

    from gateway.review.decisions import release_with_exception

    g = GatewayProcess(tmp_path, sink).start()
    try:
        held = _held(g, "exception-1")
        config = load_config(g.config_path)
        store = Store(f"sqlite:///{g.data_dir / 'chaperone.db'}")
        store.put_user("dsl", role="reviewer", email=DSL)
        copy = store.copy(held["id"])
        [index] = [i for i, f in enumerate(copy.findings) if f.rule == "personal-phone"]
        release_with_exception(
            config,
            store,
            held["id"],
            actor="dsl",
            reason="trip mobile",
            finding=index,
            scope="sender",
            until=date.today() + timedelta(days=10),
        )
        deadline = time.monotonic() + 10
        while "the approved exceptions changed" not in g.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        send(g, mail("The number is 07700 900999.", to=(PARENT,), subject="exception-2"), [PARENT])
        assert sink.wait_for_text(
            PARENT, b"exception-2"
        )  # not held: the number is approved for this sender
        other = "another.teacher@heartofengland.example"
        send(
            g,
            mail(
                "The number is 07700 900999.",
                to=(PARENT,),
                subject="exception-3",
                sender=f"Another <{other}>",
            ),
            [PARENT],
            sender=other,
        )
        assert "exception-3" in [c["subject"] for c in g.copies("held")]  # scoped to that sender
        store.close()
    finally:
        g.stop()
