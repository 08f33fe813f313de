"""Soak: mixed traffic while the next hop and the gateway fail, checked copy by copy.

  python bench/soak.py [--seconds 300] [--clients 4] [--seed 1]
                       [--store sqlite|postgresql] [--nodes N] [--store-url URL]

For SECONDS, CLIENTS threads send a mix of clean and policy-breaking mail to
parents and colleagues through `gateway serve`: one node on SQLite, or N nodes
sharing one PostgreSQL (a throwaway cluster unless --store-url is given). Each
client behaves like a real MTA: a 4xx reply or a lost connection keeps the
message and retries it later, with the same bytes, backing off; a 5xx is
final. Meanwhile the next hop (an aiosmtpd sink) is stopped and started at
random, a node is killed with SIGKILL and restarted at random, and a reviewer
releases or rejects held copies through the CLI.

Afterwards everything is brought up until the queue drains, and every
acknowledged copy is looked for, by Message-ID and recipient, at the sink and
in the store. The script prints, as JSON: the replies (250, 4xx, 5xx, broken
connections), the events, and per copy: delivered, held, rejected, released,
and the failures that must be 0: lost (acknowledged, neither delivered nor
held), leaked (a copy that should be held, delivered without a release),
delivered after a reject. It also reports false holds (clean copies held),
and duplicates: real ones (delivered twice) against those the store marks
`possible_duplicate`. The exit status is 1 if anything was lost or leaked.
"""

from __future__ import annotations

import argparse
import email
import json
import random
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The same real parts the tests use.
from gateway.cli.common import os_login  # noqa: E402
from tests.relay_env import GATEWAY, GatewayProcess, Sink, ThrowawayPostgres  # noqa: E402

STAFF = "t.teacher@heartofengland.example"
PARENTS = ["parent.one@gmail.com", "carer.two@outlook.example"]
COLLEAGUES = ["colleague@heartofengland.example", "head@heartofengland.example"]
CLEAN = [
    "The coach leaves at 9 tomorrow; please bring a packed lunch.",
    "Homework is on the class page, due Friday.",
    "Thank you for coming to parents' evening. The reading log is in her bag.",
]
DIRTY = [
    "Text me on 07700 900999 if you are running late.",
    "Add me on Snapchat, my username is jo.teach.",
    "Drop me a line at jo.teach.home@gmail.com over the holidays.",
]


@dataclass
class Sent:
    msgid: str
    subject: str
    rcpts: list[str]
    dirty: bool
    raw: bytes


def should_hold(sent: Sent, rcpt: str) -> bool:
    return sent.dirty and rcpt in PARENTS


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--nodes", type=int, default=1, help="gateway nodes (PostgreSQL only for >1)")
    ap.add_argument("--store-url", default="", help="an existing PostgreSQL server")
    args = ap.parse_args()
    if args.nodes > 1 and args.store != "postgresql":
        ap.error("several nodes share a PostgreSQL store: add --store postgresql")
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="chaperone-soak-"))
    sink = Sink().start()
    postgres = None
    url = ""
    if args.store == "postgresql":
        if args.store_url:
            url = args.store_url
        else:
            postgres = ThrowawayPostgres().start()
            url = postgres.new_database("chaperone_soak")
    nodes = []
    for n in range(args.nodes):
        (tmp / f"node{n}").mkdir()
        nodes.append(
            GatewayProcess(
                tmp / f"node{n}",
                sink,
                lease=5,
                store_url=url,
                sender_domains=("heartofengland.example",),
            ).start()
        )
    # The reviewer decides as a real account, mapped to this operating-system user.
    subprocess.run(
        [
            str(GATEWAY),
            "user",
            "add",
            "dsl",
            "--role",
            "reviewer",
            "--config",
            str(nodes[0].config_path),
        ]
        + ["--email", "dsl@heartofengland.example", "--os-user", os_login()],
        input="soak-password-1\nsoak-password-1\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    acked: dict[tuple[str, str], Sent] = {}  # (message-id, recipient) -> what was sent
    decided: dict[tuple[str, str], str] = {}  # (subject, recipient) -> released | rejected
    lock = threading.Lock()
    sending = threading.Event()  # set while new messages may be started
    sending.set()
    finish_by = [float("inf")]  # clients give up retrying after this
    replies: Counter[str] = Counter()

    def client(n: int) -> None:
        local = random.Random(args.seed * 100 + n)
        i = 0
        while sending.is_set():
            i += 1
            dirty = local.random() < 0.4
            subject = f"soak {n}-{i}"
            sent = Sent(
                f"<soak-{n}-{i}@heartofengland.example>",
                subject,
                local.sample(PARENTS + COLLEAGUES, local.randint(1, 2)),
                dirty,
                b"",
            )
            sent.raw = (
                f"From: {STAFF}\r\nTo: {', '.join(sent.rcpts)}\r\nSubject: {subject}\r\n"
                f"Message-ID: {sent.msgid}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n"
                f"{local.choice(DIRTY if dirty else CLEAN)}\r\n"
            ).encode()
            pending, delay = list(sent.rcpts), 0.5
            while pending and time.monotonic() < finish_by[0]:
                node = local.choice(nodes)
                try:
                    with smtplib.SMTP("127.0.0.1", node.port, timeout=30) as c:
                        refused = c.sendmail(STAFF, pending, sent.raw)
                except smtplib.SMTPRecipientsRefused as exc:
                    refused = exc.recipients
                except smtplib.SMTPResponseException as exc:
                    refused = dict.fromkeys(pending, (exc.smtp_code, exc.smtp_error))
                except (smtplib.SMTPException, OSError):
                    with lock:
                        replies["connection lost, retried"] += 1
                    time.sleep(delay)
                    delay = min(delay * 2, 5)
                    continue
                with lock:
                    for rcpt in pending:
                        code = refused[rcpt][0] if rcpt in refused else 250
                        if code == 250:
                            replies["250"] += 1
                            acked[(sent.msgid, rcpt)] = sent
                        elif 400 <= code < 500:
                            replies[f"{code} (4xx, retried)"] += 1
                        else:
                            replies[f"{code} (5xx, final)"] += 1
                pending = [r for r in pending if r in refused and 400 <= refused[r][0] < 500]
                if pending:
                    time.sleep(delay)
                    delay = min(delay * 2, 5)

    def reviewer() -> None:
        while sending.is_set():
            time.sleep(rng.uniform(1, 3))
            done = nodes[0].cli("quarantine", "list", "--status", "held", "--json")
            if done.returncode:
                continue
            held = json.loads(done.stdout)
            if not held:
                continue
            copy = rng.choice(held)
            verb = rng.choice(["release", "reject"])
            done = nodes[0].cli("quarantine", verb, str(copy["id"]), "--reason", "soak")
            if done.returncode == 0:
                with lock:
                    decided[(copy["subject"], copy["recipient"])] = verb.rstrip("e") + "ed"

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
    threads.append(threading.Thread(target=reviewer, daemon=True))
    for t in threads:
        t.start()
    end = time.monotonic() + args.seconds
    events: Counter[str] = Counter()
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
                node = rng.choice(nodes)
                node.kill9()
                node.start()
                events["gateway node killed and restarted"] += 1
        if sink._controller is None:
            sink.start()
        # No new messages; the ones under way get a minute to be acknowledged.
        sending.clear()
        finish_by[0] = time.monotonic() + 60
        for t in threads:
            t.join(90)
        # Let the queue drain: deferred and released copies are retried every second or so.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (
            nodes[0].copies("queued") or not released_arrived(sink, decided)
        ):
            time.sleep(0.5)
        time.sleep(3)
        return report(args, nodes, sink, acked, decided, replies, events)
    finally:
        sending.clear()
        for node in nodes:
            node.stop()
        sink.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def released_arrived(sink: Sink, decided: dict[tuple[str, str], str]) -> bool:
    arrived = {
        (email.message_from_bytes(m.data).get("Subject", ""), r)
        for m in list(sink.messages)
        for r in m.rcpt_tos
    }
    return all(key in arrived for key, verb in decided.items() if verb == "released")


def report(args, nodes, sink, acked, decided, replies, events) -> int:
    delivered: Counter[tuple[str, str]] = Counter()
    for m in list(sink.messages):
        msgid = email.message_from_bytes(m.data).get("Message-ID", "")
        for r in m.rcpt_tos:
            delivered[(msgid, r)] += 1
    stored = {(c["subject"], c["recipient"]): c for c in nodes[0].copies()}
    outcome: Counter[str] = Counter()
    failures: list[tuple[str, str, str, str]] = []
    for (msgid, rcpt), sent in acked.items():
        copy = stored.get((sent.subject, rcpt), {})
        status = copy.get("status")
        decision = decided.get((sent.subject, rcpt))
        times = delivered[(msgid, rcpt)]
        if times > 1:
            outcome["real duplicates"] += 1
            if (
                not copy
            ):  # forwarded during the session; the client resent it after a kill before 250
                outcome["real duplicates of copies forwarded at once (client resent)"] += 1
            elif not copy.get("possible_duplicate"):
                outcome["real duplicates of stored copies the store did not mark"] += 1
        if copy.get("possible_duplicate"):
            outcome[f"marked possible_duplicate, delivered {times} times"] += 1
        if should_hold(sent, rcpt):
            if times and decision != "released":
                failures.append(("LEAKED", msgid, rcpt, f"{status}, {decision}"))
            elif decision == "rejected" or status == "rejected":
                outcome["held, then rejected"] += 1
            elif times:
                outcome["held, released, delivered"] += 1
            elif status == "held":
                outcome["held"] += 1
            elif decision == "released" or status == "released":
                failures.append(("LOST", msgid, rcpt, "released but never delivered"))
            else:
                failures.append(("LOST", msgid, rcpt, f"{status}"))
        elif times:
            outcome["delivered"] += 1
        elif status == "held":
            outcome["clean copy held (false hold)"] += 1
        elif status in ("queued", "failed"):
            outcome[f"{status} (sender told if failed)"] += 1
        else:
            failures.append(("LOST", msgid, rcpt, f"{status}"))
    print(
        json.dumps(
            {
                "seconds": args.seconds,
                "clients": args.clients,
                "store": args.store,
                "nodes": args.nodes,
                "events": dict(events),
                "replies": dict(replies),
                "reviewer decisions": dict(Counter(decided.values())),
                "acknowledged copies": len(acked),
                **dict(sorted(outcome.items())),
                "lost": sum(f[0] == "LOST" for f in failures),
                "leaked": sum(f[0] == "LEAKED" for f in failures),
            },
            indent=1,
        )
    )
    for item in failures[:20]:
        print(*item)
    return 1 if failures else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
