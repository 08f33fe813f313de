"""Soak: mixed traffic while the next hop goes down and up and the gateway is killed. Prints counts.

  python bench/soak.py [--seconds 60] [--clients 4] [--seed 1]

For SECONDS, CLIENTS threads send a mix of clean and policy-breaking mail to
parents and colleagues through `gateway serve` (SQLite store). Meanwhile the
next hop (an aiosmtpd sink) is stopped and started at random, and the
gateway is killed with SIGKILL and restarted at random. Every message has a
unique Message-ID; the client records the ones acknowledged with 250.

Afterwards the next hop stays up until the queue drains, then every
acknowledged copy is looked for, by Message-ID and recipient: delivered at
the sink, or held in the store. The script prints the counts: acknowledged,
delivered, held, duplicates (allowed: at least once), and lost (must be 0).
It asserts nothing; the exit status is 1 if anything was lost.
"""

from __future__ import annotations

import argparse
import email
import json
import random
import shutil
import signal
import smtplib
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.relay_env import GatewayProcess, Sink  # noqa: E402 - the same real parts the tests use

STAFF = "t.teacher@heartofengland.example"
PARENTS = ["parent.one@gmail.com", "carer.two@outlook.example"]
COLLEAGUES = ["colleague@heartofengland.example", "head@heartofengland.example"]
BODIES = [
    "The coach leaves at 9 tomorrow; please bring a packed lunch.",
    "Homework is on the class page, due Friday.",
    "Text me on 07700 900999 if you are running late.",
    "Add me on Snapchat, my username is jo.teach.",
]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="chaperone-soak-"))
    sink = Sink().start()
    gateway = GatewayProcess(tmp, sink, lease=5).start()
    acked: list[tuple[str, str]] = []  # (message-id, recipient)
    lock = threading.Lock()
    stop = threading.Event()
    counts = Counter()

    def client(n: int) -> None:
        local = random.Random(args.seed * 100 + n)
        i = 0
        while not stop.is_set():
            i += 1
            msgid = f"<soak-{n}-{i}@heartofengland.example>"
            rcpts = local.sample(PARENTS + COLLEAGUES, local.randint(1, 2))
            body = local.choice(BODIES)
            raw = (
                f"From: {STAFF}\r\nTo: {', '.join(rcpts)}\r\nSubject: soak {n}-{i}\r\nMessage-ID: {msgid}\r\n"
                f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
            ).encode()
            try:
                with smtplib.SMTP("127.0.0.1", gateway.port, timeout=30) as c:
                    refused = c.sendmail(STAFF, rcpts, raw)
                with lock:
                    acked.extend((msgid, r) for r in rcpts if r not in refused)
                    counts["250"] += 1
            except (smtplib.SMTPException, OSError) as exc:
                with lock:
                    counts[f"not acknowledged ({type(exc).__name__})"] += 1
                time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    for t in threads:
        t.start()
    end = time.monotonic() + args.seconds
    events = Counter()
    try:
        while time.monotonic() < end:
            time.sleep(rng.uniform(0.5, 3.0))
            action = rng.choice(["hop-down", "hop-up", "kill", "nothing"])
            if action == "hop-down" and sink._controller is not None:
                sink.stop()
                events["next hop stopped"] += 1
            elif action == "hop-up" and sink._controller is None:
                sink.start()
                events["next hop started"] += 1
            elif action == "kill":
                gateway.kill9()
                gateway.start()
                events["gateway killed and restarted"] += 1
        stop.set()
        for t in threads:
            t.join(60)
        if sink._controller is None:
            sink.start()
        # Let the queue drain: deferred copies are retried every second or so.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and gateway.copies("queued"):
            time.sleep(0.5)
        time.sleep(2)
        delivered = Counter()
        for m in list(sink.messages):
            msgid = email.message_from_bytes(m.data).get("Message-ID", "")
            for r in m.rcpt_tos:
                delivered[(msgid, r)] += 1
        stored = {(c["subject"], c["recipient"]): c["status"] for c in gateway.copies()}
        lost, dup = [], 0
        outcome = Counter()
        for msgid, rcpt in acked:
            n, i = msgid.removeprefix("<soak-").split("@")[0].split("-")
            status = stored.get((f"soak {n}-{i}", rcpt))
            if delivered[(msgid, rcpt)]:
                outcome["delivered"] += 1
                dup += delivered[(msgid, rcpt)] - 1
            elif status in ("held", "queued", "failed"):
                outcome[
                    {"held": "held", "queued": "still queued", "failed": "failed, sender told"}[
                        status
                    ]
                ] += 1
            else:
                lost.append((msgid, rcpt, status))
        print(
            json.dumps(
                {
                    "seconds": args.seconds,
                    "clients": args.clients,
                    "events": dict(events),
                    "transactions": dict(counts),
                    "acknowledged_copies": len(acked),
                    **outcome,
                    "duplicates": dup,
                    "lost": len(lost),
                },
                indent=1,
            )
        )
        for item in lost[:20]:
            print("LOST", item)
        return 1 if lost else 0
    finally:
        stop.set()
        gateway.stop()
        sink.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
