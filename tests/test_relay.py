"""The relay over loopback SMTP: the gateway as a process, a real next hop, smtplib as the client."""

from __future__ import annotations

import email
import json
import re
import signal
import smtplib
import socket
import threading
import time
import urllib.request

import pytest

from .conftest import PARENT, STAFF, STUDENT
from .conftest import mail as _mail
from .relay_env import GatewayProcess, Sink, wait_until

COLLEAGUE = "colleague@heartofengland.example"


def mail(*args, **kwargs) -> bytes:
    """A test message with CRLF line ends, as it travels in SMTP."""
    return re.sub(rb"\r?\n", b"\r\n", _mail(*args, **kwargs))


DIRTY = "Ring me on 07700 900999 tonight."


@pytest.fixture(scope="module")
def sink():
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def gateway(sink, tmp_path_factory):
    g = GatewayProcess(
        tmp_path_factory.mktemp("gw"), sink, sender_domains=("heartofengland.example",)
    ).start()
    yield g
    g.stop()


def send(g: GatewayProcess, raw: bytes, rcpts: list[str], sender: str = STAFF, **kw) -> dict:
    with g.smtp() as client:
        return client.sendmail(sender, rcpts, raw, **kw)


def reply_to(g: GatewayProcess, *commands: str, source: str | None = None) -> list[tuple[int, str]]:
    """Raw SMTP commands after EHLO; the reply to each."""
    client = g.smtp(source)
    client.command_encoding = "utf-8"  # let the test send what a broken client would
    out = []
    for command in commands:
        code, text = client.docmd(command)
        out.append((code, text.decode(errors="replace")))
    client.close()
    return out


# -- forwarding and holding ------------------------------------------------------


def test_clean_mail_to_a_parent_arrives_byte_for_byte_with_one_trace_header(gateway, sink):
    raw = mail(
        "The coach leaves at 9. Bring a packed lunch.",
        to=(PARENT,),
        headers={"Message-ID": "<clean1@t>"},
    )
    raw += (
        b"DKIM-looking trailer: long line " + b"x" * 5000 + b"\r\n"
    )  # longer than aiosmtpd's default limit
    assert send(gateway, raw, [PARENT]) == {}
    [got] = sink.wait_for_text(PARENT, b"<clean1@t>")
    assert got.data.endswith(raw)
    trace = got.data[: len(got.data) - len(raw)]
    assert (
        trace.startswith(b"Received: from upstream.test (127.0.0.1)")
        and trace.count(b"Received:") == 1
    )
    assert gateway.copies() == [] or all(
        c["recipient"] != PARENT or "clean1" not in c["subject"] for c in gateway.copies()
    )


def test_dirty_copy_is_held_while_the_colleague_copy_goes_through(gateway, sink):
    raw = mail(DIRTY, to=(PARENT, COLLEAGUE), subject="held-1")
    assert send(gateway, raw, [PARENT, COLLEAGUE]) == {}
    [got] = sink.wait_for_text(COLLEAGUE, b"held-1")
    assert got.rcpt_tos == [COLLEAGUE]
    assert not any(b"held-1" in m.data for m in sink.to(PARENT))
    [held] = [c for c in gateway.copies("held") if c["subject"] == "held-1"]
    assert held["recipient"] == PARENT and held["status"] == "held"
    assert {f["category"] for f in held["findings"]} >= {"personal_phone"}
    shown = gateway.cli("quarantine", "show", str(held["id"]))
    assert "[[07700 900999]]" in shown.stdout and "Ring me on" in shown.stdout


def test_one_log_line_per_message_without_body_or_evidence(gateway, sink):
    raw = mail(DIRTY + " secret-body-marker", to=(STUDENT,), subject="log-check")
    send(gateway, raw, [STUDENT])
    time.sleep(0.2)
    records = [r for r in gateway.log_records() if r.get("event") == "message"]
    assert records, gateway.log()
    last = records[-1]
    assert last["recipients"] == [
        {"class": "student", "verdict": "held", "rules": last["recipients"][0]["rules"]}
    ]
    assert "personal-phone" in last["recipients"][0]["rules"]
    assert {"queue_id", "sender", "size", "scan_ms", "total_ms", "next_hop"} <= set(last)
    assert "secret-body-marker" not in gateway.log() and "900999" not in gateway.log()


def test_metrics_endpoint_counts_messages_and_verdicts(gateway, sink):
    send(gateway, mail(DIRTY, to=(PARENT,)), [PARENT])
    body = (
        urllib.request.urlopen(f"http://127.0.0.1:{gateway.metrics_port}/metrics", timeout=5)
        .read()
        .decode()
    )
    assert 'chaperone_messages_total{outcome="accepted"}' in body
    assert 'chaperone_copies_total{recipient_class="parent",verdict="held"}' in body
    assert 'chaperone_rule_hits_total{category="personal_phone",rule="personal-phone"}' in body
    assert "chaperone_scan_seconds_bucket" in body and "chaperone_store_copies" in body


# -- access control, the way an open-relay scanner probes ------------------------


def test_untrusted_client_is_greeted_554_and_closed_and_nothing_is_relayed(gateway, sink):
    # Without SMTP AUTH a client outside the trusted networks can never relay:
    # it is turned away before it can hold a connection open.
    with socket.socket() as s:
        s.settimeout(10)
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", gateway.port))
        replies = s.makefile("rb")
        greeting = replies.readline()
        assert greeting.startswith(b"554 5.7.1"), greeting
        assert replies.readline() == b""  # closed by the gateway, not left open
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        gateway.smtp("127.0.0.2")
    assert refused.value.smtp_code == 554
    time.sleep(0.3)
    assert sink.to("victim@elsewhere.example") == []


@pytest.mark.parametrize(
    "recipient",
    [
        "victim%elsewhere.example@heartofengland.example",
        "elsewhere.example!victim",
        "elsewhere.example!victim@heartofengland.example",
        "<@relay.example:victim@elsewhere.example>",
        "victim@[192.0.2.1]",
        "victim@127.0.0.2",  # IP addresses dressed as domains
        "victim@0x7f000001",
        "victim@2130706434",
        '"victim@elsewhere.example"@heartofengland.example',
        "postmaster",
    ],
)
def test_relay_tricks_in_recipients_are_refused(gateway, recipient):
    target = recipient if recipient.startswith("<") else f"<{recipient}>"
    (mail_reply, rcpt_reply) = reply_to(gateway, f"MAIL FROM:<{STAFF}>", f"RCPT TO:{target}")
    assert mail_reply[0] == 250
    assert rcpt_reply[0] in (501, 553), rcpt_reply


def test_foreign_and_null_senders(gateway):
    assert reply_to(gateway, "MAIL FROM:<someone@elsewhere.example>")[0][0] == 550
    assert reply_to(gateway, "MAIL FROM:<>")[0][0] == 250  # bounces from the school's server pass


# -- ESMTP done right --------------------------------------------------------------


def test_size_is_advertised_and_enforced(gateway):
    with gateway.smtp() as client:
        assert client.has_extn("size") and int(client.esmtp_features["size"]) == 1_000_000
        assert client.has_extn("8bitmime") and client.has_extn("smtputf8")
        code, _ = client.mail(STAFF, ["SIZE=1000001"])
        assert code == 552  # declared too big: refused at MAIL
    with gateway.smtp() as client:  # undeclared: refused after DATA
        assert client.mail(STAFF)[0] == 250 and client.rcpt(COLLEAGUE)[0] == 250
        assert client.data(mail("x" * 1_100_000))[0] == 552


def test_non_ascii_address_needs_smtputf8(gateway, sink):
    replies = reply_to(gateway, f"MAIL FROM:<{STAFF}>", "RCPT TO:<jürgen@bücher.example>")
    assert replies[1][0] == 553 and "5.6.7" in replies[1][1]
    raw = mail("Hello Jürgen.", to=("jürgen@bücher.example",), subject="utf8")
    assert send(gateway, raw, ["jürgen@bücher.example"], mail_options=["SMTPUTF8"]) == {}
    [got] = sink.wait_for("jürgen@bücher.example")
    assert "SMTPUTF8" in got.mail_options


def test_nul_bytes_are_refused(gateway, sink):
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(gateway, mail("hello") + b"\x00", [COLLEAGUE])
    assert refused.value.smtp_code == 550


def test_a_message_past_the_hop_limit_is_refused_as_a_loop_and_never_forwarded(gateway, sink):
    looped = b"".join(
        f"Received: from mx{i}.heartofengland.example by mx{i + 1}; Mon, 23 Nov 2026 16:00:00 +0000\r\n".encode()
        for i in range(51)
    ) + mail("Round and round.", to=(COLLEAGUE,), subject="loop-1")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(gateway, looped, [COLLEAGUE])
    assert refused.value.smtp_code == 554 and refused.value.smtp_error.startswith(b"5.4.6")
    assert not any(b"loop-1" in m.data for m in sink.to(COLLEAGUE))
    # Fifty hops are still a message: the trace of a long but finite route.
    fine = b"".join(looped.split(b"\r\n", 1)[1:]).replace(b"loop-1", b"loop-2")
    assert send(gateway, fine, [COLLEAGUE]) == {}
    assert sink.wait_for_text(COLLEAGUE, b"loop-2")


def send_raw(g: GatewayProcess, data: bytes, rcpt: str) -> bytes:
    """One transaction over a bare socket, ``data`` sent as given (smtplib
    would rewrite its line endings and stuff its dots); the reply to it."""
    with socket.create_connection(("127.0.0.1", g.port), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()
        for line in (
            b"EHLO upstream.test",
            f"MAIL FROM:<{STAFF}>".encode(),
            f"RCPT TO:<{rcpt}>".encode(),
            b"DATA",
        ):
            s.sendall(line + b"\r\n")
            while f.readline()[3:4] == b"-":
                pass
        s.sendall(data + b".\r\n")
        reply = f.readline()
        s.sendall(b"QUIT\r\n")
    return reply


def test_bare_lf_dot_never_becomes_a_second_message(gateway, sink):
    smuggled = (
        b"Subject: smuggle\r\n\r\nfirst\n.\nMAIL FROM:<"
        + STAFF.encode()
        + b">\nRCPT TO:<smuggled@elsewhere.example>\nDATA\nsecond\r\n"
    )
    assert send_raw(gateway, smuggled, COLLEAGUE).startswith(b"250")
    time.sleep(0.3)
    assert sink.to("smuggled@elsewhere.example") == []
    # One message, with the would-be second transaction still inside it as text.
    [got] = [m for m in sink.to(COLLEAGUE) if b"smuggle" in m.data]
    assert got.data.count(b"RCPT TO:<smuggled@elsewhere.example>") == 1


def test_bare_cr_reaches_the_next_hop_exactly_as_received(gateway, sink):
    # A DKIM signature covers the body's bytes: a bare CR turned into CRLF breaks it.
    raw = (
        f"From: {STAFF}\r\nTo: {COLLEAGUE}\r\nSubject: bare-cr\r\n"
        "Message-ID: <bare-cr@t>\r\n\r\n"
        "one line\rwith a bare CR inside\r\n"
        ".a line that starts with a dot\r\n"
        "..two dots\r\n"
        "the end\r\n"
    ).encode()
    assert send_raw(gateway, raw.replace(b"\r\n.", b"\r\n.."), COLLEAGUE).startswith(b"250")
    [got] = sink.wait_for_text(COLLEAGUE, b"<bare-cr@t>")
    assert got.data.endswith(raw)
    assert f"SIZE={len(got.data)}" in got.mail_options  # a bare CR is one octet on the wire


def test_a_dot_after_a_bare_cr_is_doubled_so_no_server_can_read_it_as_the_end(gateway, sink):
    # "<CR>.<CRLF>" ends the data for a server that ends lines at a bare CR:
    # the dot is doubled. This next hop, as RFC 5321 asks, keeps both.
    raw = (
        f"From: {STAFF}\r\nTo: {COLLEAGUE}\r\nSubject: cr-dot\r\n"
        "Message-ID: <cr-dot@t>\r\n\r\nbefore\r.\r\nafter\r\n"
    ).encode()
    assert send_raw(gateway, raw, COLLEAGUE).startswith(b"250")
    [got] = sink.wait_for_text(COLLEAGUE, b"<cr-dot@t>")
    assert got.data.endswith(b"\r\n\r\nbefore\r..\r\nafter\r\n")


def test_connection_cap_answers_421(sink, tmp_path):
    g = GatewayProcess(tmp_path, sink, max_connections=2).start()
    try:
        held = [g.smtp(), g.smtp()]
        with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
            assert s.makefile("rb").readline().startswith(b"421 4.7.0")
        for c in held:
            c.close()
    finally:
        g.stop()


def test_a_disk_below_the_free_space_floor_answers_452_and_takes_nothing(sink, tmp_path):
    # A floor no disk here can meet (a petabyte): the gateway must refuse before any data.
    g = GatewayProcess(tmp_path, sink, min_free_disk_mb=1_000_000_000).start()
    try:
        replies = reply_to(g, f"MAIL FROM:<{STAFF}>")
        assert replies[0][0] == 452 and "4.3.1" in replies[0][1]
        with pytest.raises(smtplib.SMTPSenderRefused):
            send(g, mail("disk floor probe"), [COLLEAGUE])
        time.sleep(0.5)
        assert not any(b"disk floor probe" in m.data for m in sink.to(COLLEAGUE))
        assert "free disk space below the floor" in g.log()
    finally:
        g.stop()


# -- guarantees -----------------------------------------------------------------------


def test_next_hop_down_gives_4xx_and_the_retry_holds_nothing_twice(tmp_path):
    sink = Sink()  # not started: the next hop is down
    g = GatewayProcess(tmp_path, sink).start()
    try:
        raw = mail(DIRTY, to=(PARENT, COLLEAGUE), subject="retry-1")
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            send(g, raw, [PARENT, COLLEAGUE])
        assert deferred.value.smtp_code == 451
        assert len(g.copies("held")) == 1  # the hold is stored already
        sink.start()
        assert send(g, raw, [PARENT, COLLEAGUE]) == {}  # the client's retry
        sink.wait_for(COLLEAGUE)
        assert [c["recipient"] for c in g.copies()] == [PARENT]  # still one held copy
    finally:
        g.stop()
        sink.stop()


def test_permanent_refusal_of_one_recipient_reaches_the_sender_as_a_dsn(sink, gateway):
    bad = "nosuchuser@elsewhere.example"
    raw = mail("Minutes attached.", to=(COLLEAGUE, bad), subject="dsn-1")
    assert send(gateway, raw, [COLLEAGUE, bad]) == {}
    assert sink.wait_for_text(COLLEAGUE, b"dsn-1")
    dsns = [
        m
        for m in sink.wait_for_text(STAFF, b"dsn-1")
        if m.mail_from == "<>" and b"multipart/report" in m.data
    ]
    report = email.message_from_bytes(dsns[-1].data)
    assert dsns[-1].mail_from == "<>" and report.get_content_type() == "multipart/report"
    assert b"Final-Recipient: rfc822; " + bad.encode() in dsns[-1].data
    assert b"Minutes attached" not in dsns[-1].data  # headers only, never the body


def test_everyone_refused_is_refused_to_the_client(gateway):
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(
            gateway,
            mail("hi", to=("nosuchuser@elsewhere.example",)),
            ["nosuchuser@elsewhere.example"],
        )
    assert refused.value.smtp_code == 550


def test_temporarily_refused_copy_is_queued_and_delivered_later(tmp_path):
    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink).start()
    try:
        busy = "tempfail@elsewhere.example"
        raw = mail("Agenda for Monday.", to=(COLLEAGUE, busy), subject="queue-1")
        assert send(g, raw, [COLLEAGUE, busy]) == {}
        sink.wait_for(COLLEAGUE)
        [queued] = g.copies("queued")
        assert queued["recipient"] == busy
        sink.accept_all = True  # the next hop recovers; the retry (0.5 s) delivers it
        [got] = sink.wait_for(busy)
        assert got.data.endswith(raw)
        deadline = time.monotonic() + 10
        while g.copies("delivered") == [] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [c["recipient"] for c in g.copies("delivered")] == [busy]
    finally:
        g.stop()
        sink.stop()


def test_scan_past_its_deadline_holds_the_copy_never_forwards_it(sink, tmp_path):
    g = GatewayProcess(tmp_path, sink, deadline=0.0005).start()
    try:
        # 200 KB of ordinary text takes far longer than the 0.5 ms deadline to scan.
        raw = mail(
            "Perfectly ordinary note about homework. " * 5000, to=(PARENT,), subject="deadline-1"
        )
        assert send(g, raw, [PARENT]) == {}
        [held] = g.copies("held")
        assert "did not finish" in held["reason"]
        assert not any(b"deadline-1" in m.data for m in sink.to(PARENT))
    finally:
        g.stop()


def test_kill_9_loses_no_acknowledged_copy(sink, tmp_path):
    g = GatewayProcess(tmp_path, sink).start()
    acked: list[tuple[str, str]] = []  # (subject, recipient)
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            subject = f"k9-{n}-{i}"
            rcpt = PARENT if i % 2 else COLLEAGUE
            body = DIRTY if i % 3 == 0 else "See you at the concert."
            try:
                with g.smtp() as c:
                    c.sendmail(STAFF, [rcpt], mail(body, to=(rcpt,), subject=subject))
                acked.append((subject, rcpt))
            except (smtplib.SMTPException, OSError):
                pass
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    # Killed mid-traffic once enough copies are acknowledged to prove something:
    # a count, not a time, so a busy machine changes when, not whether.
    wait_until(lambda: len(acked) > 12, 60, "the gateway acknowledged too few copies")
    time.sleep(0.2)  # and while transactions are under way
    g.kill9()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 10
    g.start()  # restarted on the same data directory
    try:
        held = {c["subject"] for c in g.copies()}
        delivered = {email.message_from_bytes(m.data)["Subject"] for m in list(sink.messages)}
        lost = [(s, r) for s, r in acked if s not in held and s not in delivered]
        assert lost == []
    finally:
        g.stop()


def test_sigterm_lets_a_transaction_under_way_finish(tmp_path):
    sink = Sink(delay=1.0).start()
    g = GatewayProcess(tmp_path, sink).start()
    result: dict = {}

    def slow_send():
        try:
            result["reply"] = send(
                g, mail("Slow one.", to=(COLLEAGUE,), subject="term-1"), [COLLEAGUE]
            )
        except Exception as exc:  # noqa: BLE001 - asserted below
            result["error"] = exc

    t = threading.Thread(target=slow_send)
    t.start()
    time.sleep(0.5)  # the gateway is waiting on the slow next hop
    g.signal(signal.SIGTERM)
    t.join(15)
    assert result == {"reply": {}}
    assert g.process.wait(15) == 0
    assert sink.to(COLLEAGUE)
    sink.stop()


def test_sighup_and_file_changes_reload_rules_and_a_broken_file_keeps_the_last_good_set(
    sink, tmp_path
):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "10-test.toml").write_text(
        '[[rule]]\nid = "pineapple"\ncategory = "secrecy"\ndescription = "test"\nclause = "test"\n'
        'detector = "phrases"\npatterns = ["pineapple"]\napplies_to = ["parent"]\naction = "quarantine"\n'
    )
    g = GatewayProcess(tmp_path, sink, rules=[rules]).start()
    try:
        send(g, mail("I like mango.", to=(PARENT,), subject="r1"), [PARENT])
        assert g.copies() == []
        (rules / "10-test.toml").write_text(
            (rules / "10-test.toml").read_text().replace('pineapple"]', 'mango"]')
        )
        g.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while '"msg": "reloaded"' not in g.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        send(g, mail("I like mango.", to=(PARENT,), subject="r2"), [PARENT])
        assert [c["subject"] for c in g.copies("held")] == ["r2"]
        (rules / "20-broken.toml").write_text('[[rule]]\nid = "broken"\ndetector = "nonsense"\n')
        while "reload failed" not in g.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "20-broken.toml:" in g.log()  # file:line in the log
        send(g, mail("I like mango.", to=(PARENT,), subject="r3"), [PARENT])
        assert [c["subject"] for c in g.copies("held")] == [
            "r2",
            "r3",
        ]  # the last good rules still apply
        # A file cut short, or emptied, never switches its rules off.
        (rules / "20-broken.toml").unlink()
        (rules / "10-test.toml").write_text("# emptied by mistake\n")
        while g.log().count("reload failed") < 2 and time.monotonic() < deadline + 10:
            time.sleep(0.1)
        assert "has no rules" in g.log()
        (rules / "10-test.toml").write_text(
            '[[rule]]\nid = "other"\ncategory = "secrecy"\nclause = "test"\n'
            'detector = "phrases"\npatterns = ["papaya"]\n'
        )
        while g.log().count("reload failed") < 3 and time.monotonic() < deadline + 20:
            time.sleep(0.1)
        assert "would drop 1 rule(s) (pineapple)" in g.log()
        send(g, mail("I like mango.", to=(PARENT,), subject="r4"), [PARENT])
        assert [c["subject"] for c in g.copies("held")] == ["r2", "r3", "r4"]
    finally:
        g.stop()


def test_relay_on_postgresql(sink, tmp_path, postgres_url):
    g = GatewayProcess(tmp_path, sink, store_url=postgres_url).start()
    try:
        send(g, mail(DIRTY, to=(PARENT,), subject="pg-1"), [PARENT])
        [held] = g.copies("held")
        assert held["subject"] == "pg-1" and held["recipient"] == PARENT
    finally:
        g.stop()


def test_a_malformed_pdf_leaves_only_json_lines_and_none_of_its_bytes_in_the_log(sink, tmp_path):
    from email.message import EmailMessage

    from .test_documents import pdf

    # A dictionary key that is not a name: pypdf complains, quoting the bytes.
    broken = pdf("The trip leaves at nine.").replace(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Catalog (ATTACHMENT-BYTES\x01\xff line\nnext) 1 /Pages 2 0 R >>",
    )
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = STAFF, PARENT, "trip letter"
    m.set_content("The letter is attached.")
    m.add_attachment(broken, maintype="application", subtype="pdf", filename="letter.pdf")
    g = GatewayProcess(tmp_path, sink).start()
    try:
        assert send(g, m.as_bytes(), [PARENT]) == {}
    finally:
        g.stop()
    lines = g.log().splitlines()
    assert any('"queue_id"' in line for line in lines)  # the message's own line is there
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    assert "ATTACHMENT-BYTES" not in g.log()
