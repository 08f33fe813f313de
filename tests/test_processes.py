"""`gateway serve --processes N`: several relay processes on one port, one store, one supervisor."""

from __future__ import annotations

import contextlib
import email
import os
import re
import signal
import smtplib
import socket
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from gateway.config import RelaySettings
from gateway.store import CopyRecord, open_store

from .conftest import PARENT, STAFF
from .conftest import mail as _mail
from .relay_env import GATEWAY, GatewayProcess, Sink, wait_until

COLLEAGUE = "colleague@heartofengland.example"
BUSY = "tempfail@elsewhere.example"  # the sink answers 450 until accept_all


def mail(body: str, to: tuple[str, ...], subject: str) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", _mail(body, to=to, subject=subject))


def subjects_at(sink: Sink, rcpt: str) -> Counter[str]:
    return Counter(email.message_from_bytes(m.data)["Subject"] for m in sink.to(rcpt))


def records(g: GatewayProcess, msg: str) -> list[dict]:
    return [r for r in g.log_records() if r["msg"] == msg]


def stored(g: GatewayProcess, status: str) -> list[CopyRecord]:
    """The copies in the gateway's store, read directly (faster than the CLI in a loop)."""
    with contextlib.closing(open_store(data_dir=g.data_dir)) as store:
        return store.copies(status)


def serve_exits(config: Path, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(GATEWAY), "serve", "--config", str(config), "--processes", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )
    assert done.returncode == 1, done.stderr
    assert '"msg": "listening"' not in done.stderr  # no relay process was started
    return done


def test_scan_workers_unset_share_the_cores_among_the_relay_processes():
    assert RelaySettings().scan_workers_each(cpus=8) == 2  # one process: as it always was
    assert RelaySettings(processes=4).scan_workers_each(cpus=8) == 2
    assert RelaySettings(processes=3).scan_workers_each(cpus=2) == 1  # never none
    assert RelaySettings(processes=4, scan_workers=3).scan_workers_each(cpus=8) == 3


def test_two_processes_share_the_port_and_the_queue_and_deliver_each_copy_once(tmp_path):
    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink, processes=2).start()
    try:
        [ready] = records(g, "all processes listening")
        assert len(set(ready["pids"])) == 2
        failures: list[BaseException] = []

        def client(n: int) -> None:
            try:
                for i in range(6):  # a connection of its own for each message
                    rcpts = [COLLEAGUE, BUSY] if i == 0 else [COLLEAGUE]
                    with g.smtp() as c:
                        c.sendmail(STAFF, rcpts, mail("Notes.", tuple(rcpts), f"p-{n}-{i}"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert failures == []
        expected = Counter(f"p-{n}-{i}" for n in range(10) for i in range(6))
        assert subjects_at(sink, COLLEAGUE) == expected
        served = {r["pid"] for r in records(g, "message")}
        assert served == set(ready["pids"])  # the kernel spread the connections

        # Ten copies wait in the one store; both processes' queues now try them.
        assert len(stored(g, "queued")) == 10
        sink.accept_all = True
        wait_until(lambda: len(stored(g, "delivered")) == 10, message="queued copies not delivered")
        time.sleep(1.5)  # past the next retries: nothing goes out again
        assert subjects_at(sink, BUSY) == Counter(f"p-{n}-0" for n in range(10))

        # A second gateway on the same port would join this one's SO_REUSEPORT group: refused.
        (tmp_path / "second").mkdir()
        second = GatewayProcess(tmp_path / "second", sink, processes=2)
        second.config_path.write_text(
            second.config_path.read_text().replace(f':{second.port}"', f':{g.port}"')
        )
        done = serve_exits(second.config_path, second.tmp)
        assert f"on 127.0.0.1:{g.port} (relay.listen)" in done.stderr.strip().splitlines()[-1]

        # Both processes reload on the supervisor's SIGHUP.
        g.signal(signal.SIGHUP)
        wait_until(lambda: len(records(g, "reloaded")) == 2, message="not reloaded by both")
        assert {r["pid"] for r in records(g, "reloaded")} == set(ready["pids"])

        # One endpoint for all of them: counters summed, the store's counts as last read.
        def metrics() -> bytes:
            url = f"http://127.0.0.1:{g.metrics_port}/metrics"
            return urllib.request.urlopen(url, timeout=5).read()

        assert b'chaperone_messages_total{outcome="accepted"} 60.0' in metrics()
        wait_until(lambda: b'chaperone_store_copies{status="delivered"} 10.0' in metrics())
    finally:
        assert g.stop() == 0
        sink.stop()


def test_a_child_killed_with_sigkill_is_started_again_and_no_acknowledged_copy_is_lost(tmp_path):
    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink, processes=2).start()
    acked: list[tuple[str, str]] = []
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            rcpt = PARENT if i % 2 else COLLEAGUE
            body = "Ring me on 07700 900999 tonight." if i % 3 == 0 else "See you at the concert."
            raw = mail(body, (rcpt,), f"k-{n}-{i}")
            while not stop.is_set():  # like a real MTA: the same message until it is taken
                try:
                    with g.smtp() as c:
                        c.sendmail(STAFF, [rcpt], raw)
                    acked.append((f"k-{n}-{i}", rcpt))
                    break
                except (smtplib.SMTPException, OSError):
                    time.sleep(0.05)
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    try:
        [ready] = records(g, "all processes listening")
        victim = ready["pids"][0]
        for t in threads:
            t.start()
        time.sleep(1.0)
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: records(g, "supervisor: relay process started again"),
            message="the killed process was not started again",
        )
        [died] = records(g, "supervisor: relay process died; starting it again")
        assert died["pid"] == victim and died["status"] == "killed by SIGKILL"
        [again] = records(g, "supervisor: relay process started again")
        # The new process takes its share of the connections.
        wait_until(lambda: any(r["pid"] == again["pid"] for r in records(g, "message")))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    try:
        assert len(acked) > 20
        held = {c.subject for c in stored(g, "held")}
        lost = [
            (s, r) for s, r in acked if s not in held and not subjects_at(sink, r)[s]
        ]  # acknowledged, neither held nor delivered
        assert lost == []
    finally:
        assert g.stop() == 0
        sink.stop()


def test_sigterm_lets_every_process_finish_its_transaction_and_exits_0(tmp_path):
    sink = Sink(delay=1.0).start()
    g = GatewayProcess(tmp_path, sink, processes=2).start()
    replies: list[object] = []

    def slow_send(n: int) -> None:
        try:
            with g.smtp() as c:
                replies.append(
                    c.sendmail(STAFF, [COLLEAGUE], mail("Slow.", (COLLEAGUE,), f"t-{n}"))
                )
        except Exception as exc:  # noqa: BLE001 - asserted below
            replies.append(exc)

    threads = [threading.Thread(target=slow_send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: len(sink.data_started) == 8, message="transactions not under way")
    g.signal(signal.SIGTERM)
    for t in threads:
        t.join(15)
    try:
        assert replies == [{}] * 8
        assert g.process.wait(15) == 0
        assert sum(subjects_at(sink, COLLEAGUE).values()) == 8
        assert "supervisor: stopped" in g.log()
    finally:
        g.stop()
        sink.stop()


@pytest.mark.parametrize("busy", ["smtp", "metrics"])
def test_a_busy_port_stops_the_start_naming_the_setting(tmp_path, busy):
    g = GatewayProcess(tmp_path, Sink(), processes=2)
    port, key = (
        (g.port, "relay.listen") if busy == "smtp" else (g.metrics_port, "relay.metrics_listen")
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = serve_exits(g.config_path, tmp_path)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("gateway: cannot ") and f"on 127.0.0.1:{port} ({key})" in last
