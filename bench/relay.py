"""Relay benchmark: prints figures, asserts nothing.

  python bench/relay.py [--messages N] [--sessions C] [--rounds R] [--plain | --html [--size BYTES]]

Sends N messages, each addressed to a parent (so every one is scanned),
over C concurrent SMTP sessions (connections reused), to

* the gateway (`gateway serve` on config/gateway.toml, SQLite store), and
* a bare forwarder: aiosmtpd in, aiosmtplib out over reused connections,
  no scanning and no store,

both relaying to the same sink (Postfix's smtp-sink when installed, else an
aiosmtpd sink). The messages are a school's day of mail (bench/mix.py:
letters, Outlook and Gmail HTML, quoted threads, newsletters, PDF and DOCX
attachments, now and then 1 MB of photos), all clean; ``--plain`` sends
~SIZE-byte text letters instead, ``--html`` the same letters as
multipart/alternative. Copies the gateway held are counted from its
metrics: there should be none.

Rounds alternate between the two; the figures are medians over rounds:
messages/s, p50 and p99 latency per message (from the client's MAIL to the
250 after DATA), and gateway/bare ratios. Each round also prints how busy
the whole machine's CPUs were (client, gateway or forwarder, and sink all
share them) and the CPU milliseconds per message of each process (from
/proc: the client, the relay process, each scan worker, the forwarder, the
sink); the end, each process's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.mix import PARENT, STAFF, day_of_mail, proportions  # noqa: E402
from bench.processes import Process, cpu_seconds, gateway_tree, peak_memory_mb  # noqa: E402

GATEWAY = Path(sys.executable).parent / "gateway"
_TEXT = (
    "the homework for this week is on the class page and the deadline is friday please make sure "
    "your child brings a packed lunch for the museum trip we will leave school at nine and return "
    "by half past three the coach company has asked that bags are stored under the seats thank you "
    "for your support with reading at home the library is open every lunchtime and after school"
)
WORDS = _TEXT.split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(3) == b"220":
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing answered on port {port}")


def messages(n: int, size: int, seed: int = 1, to: str = PARENT, html: bool = False) -> list[bytes]:
    """Distinct, ordinary 10 KB letters to a parent: every one is scanned and passes.

    Plain text by default; with ``html``, multipart/alternative as mail
    programs send it: the same letter as text and as HTML (a paragraph per
    line), each about half the size.
    """
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words: list[str] = []
        length, wanted = 0, (size - 1600) // 2 if html else size - 400
        while length < wanted:
            sentence = rng.sample(WORDS, 12)
            sentence = [sentence[0].capitalize(), *sentence[1:-1], sentence[-1] + "."]
            words += sentence
            length += sum(len(w) + 1 for w in sentence)
        # Real letters have dates, times and prices (which the phone detector
        # must look at and mask), not only words.
        words += [
            f"The trip on {1 + i % 28}/03/2027 leaves at 9.{i % 6}0am and costs £{12 + i % 9}.50, room {100 + i % 50}."
        ]
        rng.shuffle(words)
        lines = [" ".join(words[j : j + 12]) for j in range(0, len(words), 12)]
        head = (
            f"From: Tess Teacher <{STAFF}>\r\nTo: {to}\r\nSubject: Class update {i}\r\n"
            f"Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nMessage-ID: <bench-{seed}-{i}@heartofengland.example>\r\n"
            f"MIME-Version: 1.0\r\n"
        )
        text = "\r\n".join(lines)
        if not html:
            out.append(f"{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n".encode())
            continue
        boundary = f"=_bench_{seed}_{i}"
        markup = "\r\n".join(
            f'<p style="margin:0">{line.replace("£", "&pound;")}</p>' for line in lines
        )
        out.append(
            (
                f'{head}Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
                f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
                f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
                f"<html><body>\r\n{markup}\r\n</body></html>\r\n--{boundary}--\r\n"
            ).encode()
        )
    return out


BARE_FORWARDER = r"""
import asyncio, sys
import aiosmtplib
from aiosmtpd.smtp import SMTP

listen, hop = int(sys.argv[1]), int(sys.argv[2])

class Pool:
    def __init__(self):
        self.idle = []
    async def send(self, sender, rcpts, data):
        client = self.idle.pop() if self.idle else None
        if client is None or not client.is_connected:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=hop, start_tls=False, local_hostname="bare")
            await client.connect()
        try:
            await client.sendmail(sender, rcpts, data)
        except Exception:
            client.close()
            raise
        self.idle.append(client)

pool = Pool()

class Forward:
    async def handle_DATA(self, server, session, envelope):
        try:
            await pool.send(envelope.mail_from, envelope.rcpt_tos, envelope.original_content)
        except Exception:
            return "451 4.4.1 next hop failed"
        return "250 2.0.0 Ok"

class Big(SMTP):
    line_length_limit = 65538

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Big(Forward(), hostname="bare"), "127.0.0.1", listen)
    await asyncio.Event().wait()

asyncio.run(main())
"""

AIOSMTPD_SINK = r"""
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok"
class Big(SMTP):
    line_length_limit = 65538
async def main():
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: Big(Sink(), hostname="sink"), "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def drive(
    port: int, payloads: list[bytes], sessions: int, to: str = PARENT
) -> tuple[float, list[float], int]:
    import aiosmtplib

    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    latencies: list[float] = []
    failures = 0

    async def session() -> None:
        nonlocal failures
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, local_hostname="bench", timeout=120
        )
        await client.connect()
        while not queue.empty():
            data = queue.get_nowait()
            t = time.perf_counter()
            try:
                await client.sendmail(STAFF, [to], data)
                latencies.append(time.perf_counter() - t)
            except aiosmtplib.SMTPException:
                failures += 1
                if not client.is_connected:
                    await client.connect()
        await client.quit()

    start = time.perf_counter()
    await asyncio.gather(*(session() for _ in range(sessions)))
    return time.perf_counter() - start, latencies, failures


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def copies(metrics_port: int, verdict: str) -> int:
    """Copies the gateway has given this verdict so far ("held", "forwarded"), from its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return round(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("chaperone_copies_total{") and f'verdict="{verdict}"' in line
        )
    )


def load(args: argparse.Namespace, n: int, seed: int) -> list[bytes]:
    """The messages of one round (or warm-up): the day's mix unless --plain or --html."""
    if args.plain or args.html:
        return messages(n, args.size, seed=seed, to=args.recipient, html=args.html)
    return [m.raw for m in day_of_mail(n, seed=seed, to=args.recipient)]


def cpu_split(processes: list[Process]) -> dict[Process, float]:
    out = {}
    for p in processes:
        try:
            out[p] = cpu_seconds(p.pid)
        except OSError:  # a scan worker replaced meanwhile
            continue
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument(
        "--plain", action="store_true", help="~SIZE-byte text/plain letters instead of the mix"
    )
    kind.add_argument(
        "--html",
        action="store_true",
        help="~SIZE-byte multipart/alternative letters (text and HTML halves) instead of the mix",
    )
    ap.add_argument("--size", type=int, default=10_000, help="letter size for --plain and --html")
    ap.add_argument(
        "--recipient",
        default=PARENT,
        help="envelope and To: recipient (a staff address measures the relay without scanning)",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="chaperone-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        sink_port, bare_port, gw_port = free_port(), free_port(), free_port()
        metrics_port = free_port()
        smtp_sink = shutil.which("smtp-sink") or (
            "/usr/sbin/smtp-sink" if os.path.exists("/usr/sbin/smtp-sink") else None
        )
        if smtp_sink:
            sink_cmd = [smtp_sink, "-u", "nobody", f"127.0.0.1:{sink_port}", "256"]
            sink_name = "Postfix smtp-sink"
        else:
            sink_cmd = [sys.executable, "-c", AIOSMTPD_SINK, str(sink_port)]
            sink_name = "aiosmtpd sink"
        sink = subprocess.Popen(sink_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(sink)
        wait_port(sink_port)
        bare = subprocess.Popen(
            [sys.executable, "-c", BARE_FORWARDER, str(bare_port), str(sink_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(bare)
        gw_log = (tmp / "gateway.log").open("wb")
        gateway = subprocess.Popen(
            [
                str(GATEWAY),
                "serve",
                "--config",
                str(ROOT / "config" / "gateway.toml"),
                "--listen",
                f"127.0.0.1:{gw_port}",
                "--next-hop",
                f"127.0.0.1:{sink_port}",
                "--data-dir",
                str(tmp / "data"),
                "--metrics-listen",
                f"127.0.0.1:{metrics_port}",
            ],
            stdout=gw_log,
            stderr=gw_log,
        )
        procs.append(gateway)
        wait_port(bare_port)
        wait_port(gw_port)
        if args.plain or args.html:
            what = f"{'multipart/alternative' if args.html else 'text/plain'} letters of ~{args.size} bytes"
        else:
            what = "messages of a school's day (bench/mix.py)"
        print(
            f"relay benchmark: {args.messages} {what} to {args.recipient}, {args.sessions} sessions, "
            f"{args.rounds} rounds each, sink: {sink_name}, {os.cpu_count()} CPUs"
        )
        if not (args.plain or args.html):
            print(f"  mix: {proportions(day_of_mail(args.messages, seed=0, to=args.recipient))}")
        results: dict[str, list[tuple[float, float, float, int]]] = {
            "bare forwarder": [],
            "gateway": [],
        }
        cpu: dict[str, dict[str, list[float]]] = {"bare forwarder": {}, "gateway": {}}
        client = Process(os.getpid(), "client (this script)")
        sink_process = Process(sink.pid, "sink")
        # Warm-up: connections, worker processes, caches.
        to = args.recipient
        asyncio.run(drive(bare_port, load(args, 100, 999), args.sessions, to))
        asyncio.run(drive(gw_port, load(args, 100, 998), args.sessions, to))
        held_total, forwarded_total, sent_total = 0, 0, 0
        for r in range(args.rounds):
            for name, port in (("bare forwarder", bare_port), ("gateway", gw_port)):
                payloads = load(args, args.messages, seed=r * 2 + (name == "gateway"))
                if name == "gateway":
                    processes = gateway_tree(gateway.pid)
                    held_before = copies(metrics_port, "held")
                    forwarded_before = copies(metrics_port, "forwarded")
                else:
                    processes = [Process(bare.pid, "bare forwarder")]
                processes = [client, *processes, sink_process]
                busy0, total0 = cpu_times()
                cpu0 = cpu_split(processes)
                elapsed, lat, failed = asyncio.run(drive(port, payloads, args.sessions, to))
                cpu1 = cpu_split(processes)
                busy1, total1 = cpu_times()
                busy = (
                    100 * (busy1 - busy0) / (total1 - total0) if total1 > total0 else float("nan")
                )
                rate = len(lat) / elapsed
                results[name].append((rate, pct(lat, 0.5), pct(lat, 0.99), failed))
                held = ""
                if name == "gateway":
                    n_held = copies(metrics_port, "held") - held_before
                    held_total += n_held
                    sent_total += len(lat)
                    forwarded_total += copies(metrics_port, "forwarded") - forwarded_before
                    held = f"  held {n_held}"
                print(
                    f"  round {r + 1} {name:<15} {rate:7.1f} msg/s  p50 {pct(lat, 0.5) * 1000:7.1f} ms  "
                    f"p99 {pct(lat, 0.99) * 1000:7.1f} ms  failed {failed}{held}  machine CPU busy {busy:3.0f}%"
                )
                split, by_role = [], dict[str, float]()
                for p in processes:
                    if p in cpu0 and p in cpu1:
                        ms = (cpu1[p] - cpu0[p]) / len(payloads) * 1000
                        by_role[p.role] = by_role.get(p.role, 0.0) + ms
                        if ms >= 0.005:
                            split.append(f"{p.role} {ms:.2f}")
                for role, ms in by_role.items():
                    cpu[name].setdefault(role, []).append(ms)
                print(f"      CPU ms per message: {', '.join(split)}")
        summary = {
            name: (
                statistics.median(x[0] for x in rs),
                statistics.median(x[1] for x in rs),
                statistics.median(x[2] for x in rs),
            )
            for name, rs in results.items()
        }
        print("medians:")
        for name, (rate, p50, p99) in summary.items():
            print(
                f"  {name:<15} {rate:7.1f} msg/s  p50 {p50 * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"
            )
        (b_rate, b_p50, b_p99), (g_rate, g_p50, g_p99) = (
            summary["bare forwarder"],
            summary["gateway"],
        )
        print(
            f"gateway / bare: throughput {g_rate / b_rate:.2f}x (target >= 0.8), "
            f"p50 {g_p50 / b_p50:.2f}x, p99 {g_p99 / b_p99:.2f}x (target <= 2)"
        )
        print(
            f"gateway copies: {sent_total} sent, {forwarded_total} forwarded, {held_total} held "
            "(should be 0: the mail is clean)"
        )
        print("CPU ms per message, median over rounds (scan workers added together):")
        for name, by_role in cpu.items():
            medians = {role: statistics.median(v) for role, v in by_role.items()}
            parts = [f"{role} {ms:.2f}" for role, ms in medians.items() if ms >= 0.005]
            print(f"  {name:<15} {', '.join(parts)}")
        print("peak resident memory (VmHWM):")
        everyone = [
            client,
            *gateway_tree(gateway.pid),
            Process(bare.pid, "bare forwarder"),
            sink_process,
        ]
        for p in everyone:
            try:
                print(f"  {peak_memory_mb(p.pid):7.1f} MB  {p.role} (pid {p.pid})")
            except OSError:
                continue
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
