"""gateway check: scan message files as the relay would, and say what would happen to each copy."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from gateway.cli.common import DEFAULT_CONFIG, load, parse_at
from gateway.dispose import caught
from gateway.judge.policy import Considered
from gateway.judge.pool import ScanJob, ScanPool
from gateway.judge.scan import ScanResult


def report(file: str, result: ScanResult) -> str:
    lines = [f"{file}: {result.verdict.upper()}"]
    if result.error:
        lines.append(f"  held unscanned: {result.error}")
    for part in result.unread:
        lines.append(f"  not readable: {part}")
    for rcpt, verdict in result.recipients.items():
        lines.append(f"  {verdict:<10} {rcpt} ({result.classes.get(rcpt, '?')})")
    for f in result.findings:
        where = f"{f.part}, {f.zone}{' (quoted)' if f.quoted else ''}"
        ctx = (
            f.context.replace(f.evidence, f"[[{f.evidence}]]", 1)
            if f.evidence in f.context
            else f.context
        )
        lines.append(f"  - {f.category} by rule {f.rule} ({f.action}) in {where}: {f.note}")
        lines.append(f"      ...{ctx}...")
    for note in result.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def explanation(trace: list[Considered]) -> str:
    """Every candidate and phrase match, whose it is, and why it did or did not become a finding."""
    if not trace:
        return "  considered: nothing (no detail found, no rule's phrase matched)"
    lines = ["  considered:"]
    for c in trace:
        owner = f" [{c.owner}]" if c.owner else ""
        lines.append(f"    {c.outcome:<8} {c.rule}: {c.evidence!r} in {c.part}{owner}: {c.why}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    at = parse_at(args.at, config)
    unreadable: dict[int, str] = {}

    def jobs() -> Iterator[ScanJob]:
        for i, file in enumerate(args.files):
            try:
                raw = Path(file).read_bytes()
            except OSError as exc:
                unreadable[i] = f"cannot read file: {exc.strerror}"
                raw = b""
            yield ScanJob(raw, args.mail_from, args.rcpt or None, at)

    worst = 0
    if args.explain:  # in this process, so the scanner can say what it considered
        with ScanPool(config, 1) as pool:
            for i, (file, job) in enumerate(zip(args.files, jobs(), strict=True)):
                trace: list[Considered] = []
                result = (
                    pool.scanner.held(unreadable[i], args.mail_from, args.rcpt)
                    if i in unreadable
                    else pool.scanner.scan(job.raw, job.mail_from, job.rcpts, job.at, trace)
                )
                print(report(file, result))
                print(explanation(trace))
                worst = max(worst, 1 if caught(result.verdict) else 0)
        return worst
    with ScanPool(config, args.workers) as pool:
        for i, (file, result) in enumerate(zip(args.files, pool.scan_many(jobs()), strict=True)):
            if i in unreadable:
                result = pool.scanner.held(unreadable[i], args.mail_from, args.rcpt)
            print(
                json.dumps(result.as_json(file), ensure_ascii=False)
                if args.json
                else report(file, result)
            )
            worst = max(
                worst, 1 if caught(result.verdict) else 0
            )  # some copy would be held or refused
    return worst


def add(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("check", help="scan message files and report verdicts and findings")
    c.add_argument("--config", default=DEFAULT_CONFIG)
    c.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    c.add_argument(
        "--explain",
        action="store_true",
        help="also list every candidate detail and phrase match: whose it is, and why it did or did not become a finding",
    )
    c.add_argument("--mail-from", help="envelope sender (default: the From header)")
    c.add_argument(
        "--rcpt", action="append", help="envelope recipient, repeatable (default: To, Cc and Bcc)"
    )
    c.add_argument(
        "--at", help="judge approvals at this date-time (default: each message's Date header)"
    )
    c.add_argument("--workers", type=int, default=1, help="scan processes (default: 1)")
    c.add_argument("files", nargs="+")
    c.set_defaults(func=run)
