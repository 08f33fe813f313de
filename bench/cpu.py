"""Where a relayed message's CPU goes: prints CPU milliseconds per message for each process.

  python bench/cpu.py [--messages N] [--recipient ADDR] [--html]

Starts `gateway serve` (SQLite store in a temporary folder) relaying to
Postfix's smtp-sink, sends N ~10 KB letters (bench/relay.py's) over 20
sessions, and reads each process's user+system time from /proc before and
after: the relay process, each scan worker, and the sink. Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import relay as bench  # noqa: E402 - bench/relay.py: messages, drive, ports
from processes import cpu_seconds, gateway_tree  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--recipient", default=bench.PARENT)
    ap.add_argument(
        "--html", action="store_true", help="multipart/alternative letters (see bench/relay.py)"
    )
    args = ap.parse_args()
    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    tmp = tempfile.mkdtemp(prefix="chaperone-cpu-")
    sink_port, gw_port = bench.free_port(), bench.free_port()
    sink = subprocess.Popen([sink_bin, "-u", "nobody", f"127.0.0.1:{sink_port}", "256"])
    gateway = subprocess.Popen(
        [
            str(bench.GATEWAY),
            "serve",
            "--config",
            str(ROOT / "config" / "gateway.toml"),
            "--listen",
            f"127.0.0.1:{gw_port}",
            "--next-hop",
            f"127.0.0.1:{sink_port}",
            "--data-dir",
            tmp,
            "--metrics-listen",
            f"127.0.0.1:{bench.free_port()}",
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        bench.wait_port(gw_port)
        to = args.recipient
        asyncio.run(
            bench.drive(gw_port, bench.messages(100, 10_000, seed=9, to=to, html=args.html), 20, to)
        )  # warm up
        payloads = bench.messages(args.messages, 10_000, seed=3, to=to, html=args.html)
        tree = gateway_tree(gateway.pid)
        pids = [p.pid for p in tree]
        before = {p: cpu_seconds(p) for p in pids} | {sink.pid: cpu_seconds(sink.pid)}
        elapsed, latencies, failed = asyncio.run(bench.drive(gw_port, payloads, 20, to))
        print(
            f"{args.messages} messages to {to}: {len(latencies) / elapsed:.0f} msg/s, {failed} failed"
        )
        for p in tree:
            used = (cpu_seconds(p.pid) - before[p.pid]) / args.messages * 1000
            if used > 0.005:
                print(f"  {used:6.2f} ms CPU per message  {p.role} (pid {p.pid})")
        print(
            f"  {(cpu_seconds(sink.pid) - before[sink.pid]) / args.messages * 1000:6.2f} ms CPU per message  sink"
        )
    finally:
        gateway.terminate()
        sink.terminate()
        gateway.wait(30)
        sink.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
