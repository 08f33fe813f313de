"""The ``gateway`` console script: check, eval, rules check."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from gateway.config import Config, load_config
from gateway.rules import RuleError
from gateway.scanner import Scanner, ScanPool, ScanResult


def _parse_at(value: str | None, config: Config) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"gateway: --at {value!r} is not an ISO date or date-time (e.g. 2026-12-21T09:00)") from None
    return at if at.tzinfo else at.replace(tzinfo=config.timezone)


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except RuleError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _report(file: str, result: ScanResult) -> str:
    lines = [f"{file}: {result.verdict.upper()}"]
    if result.error:
        lines.append(f"  held unscanned: {result.error}")
    for rcpt, verdict in result.recipients.items():
        lines.append(f"  {verdict:<10} {rcpt} ({result.classes.get(rcpt, '?')})")
    for f in result.findings:
        where = f"{f.part}, {f.zone}{' (quoted)' if f.quoted else ''}"
        ctx = f.context.replace(f.evidence, f"[[{f.evidence}]]", 1) if f.evidence in f.context else f.context
        lines.append(f"  - {f.category} by rule {f.rule} ({f.action}) in {where}: {f.note}")
        lines.append(f"      ...{ctx}...")
    for note in result.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    scanner = Scanner(config)
    pool = ScanPool(scanner) if not args.in_process else None
    at = _parse_at(args.at, config)
    worst = 0
    try:
        for file in args.files:
            try:
                raw = Path(file).read_bytes()
            except OSError as exc:
                result = scanner.held(f"cannot read file: {exc.strerror}", args.mail_from, args.rcpt)
            else:
                result = (pool.scan if pool else scanner.scan)(raw, args.mail_from, args.rcpt or None, at)
            if args.json:
                print(json.dumps(result.as_json(file), ensure_ascii=False))
            else:
                print(_report(file, result))
            worst = max(worst, 0 if result.verdict == "pass" else 1)
    finally:
        if pool:
            pool.close()
    return worst


def cmd_eval(args: argparse.Namespace) -> int:
    from gateway.evaluation import evaluate, format_report

    config = _load(args.config)
    report = evaluate(Scanner(config), Path(args.manifest), _parse_at(args.at, config))
    print(format_report(report))
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    config = _load(args.config)
    print(f"configuration {config.path}: OK ({config.school_name})")
    d = config.directory
    print(f"  directory: {len(d.parents)} parents, {len(d.students)} students, {len(d.staff_names)} staff")
    print(f"  approved details: {len(config.approved)}")
    for a in config.approved:
        until = f", until {a.until:%Y-%m-%d %H:%M %Z}" if a.until else ""
        print(f"    {a.kind:<8} {a.value:<32} {a.label}{until}")
    print(f"rules: {len(config.rules.rules)} from {len(config.rules.files)} files")
    for r in config.rules.rules:
        print(f"  {r.id:<36} {r.category:<20} {r.action:<10} {','.join(r.applies_to):<16} {r.source}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description="Chaperone: outbound e-mail compliance gateway for schools")
    sub = p.add_subparsers(dest="command", required=True)
    default_config = "config/gateway.toml"

    c = sub.add_parser("check", help="scan message files and report verdicts and findings")
    c.add_argument("--config", default=default_config)
    c.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    c.add_argument("--mail-from", help="envelope sender (default: the From header)")
    c.add_argument("--rcpt", action="append", help="envelope recipient, repeatable (default: To, Cc and Bcc)")
    c.add_argument("--at", help="judge approvals at this date-time (default: each message's Date header)")
    c.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    c.add_argument("files", nargs="+")
    c.set_defaults(func=cmd_check)

    e = sub.add_parser("eval", help="score the rules on a labelled corpus (manifest.jsonl)")
    e.add_argument("--config", default=default_config)
    e.add_argument("--at", help="judge approvals at this date-time (default: each message's Date header)")
    e.add_argument("manifest")
    e.set_defaults(func=cmd_eval)

    r = sub.add_parser("rules", help="rule maintenance")
    rsub = r.add_subparsers(dest="rules_command", required=True)
    rc = rsub.add_parser("check", help="validate configuration and rules and list what is loaded")
    rc.add_argument("--config", default=default_config)
    rc.set_defaults(func=cmd_rules_check)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
