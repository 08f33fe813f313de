"""The ``gateway`` console script: serve, quarantine, check, eval, rules check."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from gateway.config import Config, load_config
from gateway.judge.rules import RuleError
from gateway.judge.scan import Scanner, ScanPool, ScanResult


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


def _settings(config: Config, args: argparse.Namespace) -> Config:
    """Apply --listen, --next-hop and --data-dir over the configuration file."""
    import dataclasses

    from gateway.config import parse_host_port

    relay = config.relay
    try:
        if getattr(args, "listen", None):
            relay = dataclasses.replace(relay, listen=parse_host_port(args.listen, "--listen"))
        if getattr(args, "next_hop", None):
            relay = dataclasses.replace(relay, next_hop=parse_host_port(args.next_hop, "--next-hop"))
    except ValueError as exc:
        raise SystemExit(f"gateway: {exc}") from None
    if getattr(args, "data_dir", None):
        relay = dataclasses.replace(relay, data_dir=Path(args.data_dir).resolve())
    if getattr(args, "store_url", None):
        relay = dataclasses.replace(relay, store_url=args.store_url)
    if getattr(args, "trusted_network", None):
        from ipaddress import ip_network

        try:
            nets = tuple(ip_network(n, strict=False) for n in args.trusted_network)
        except ValueError as exc:
            raise SystemExit(f"gateway: --trusted-network: {exc}") from None
        relay = dataclasses.replace(relay, trusted_networks=nets)
    if getattr(args, "metrics_listen", None):
        try:
            relay = dataclasses.replace(relay, metrics_listen=parse_host_port(args.metrics_listen, "--metrics-listen"))
        except ValueError as exc:
            raise SystemExit(f"gateway: {exc}") from None
    return dataclasses.replace(config, relay=relay)


def _load_for_store(path: str) -> Config:
    """Reviewers can still reach the store when a rule file is broken."""
    try:
        return load_config(path)
    except RuleError as exc:
        print(f"gateway: warning: {exc} (rules not loaded; the store is still readable)", file=sys.stderr)
    try:
        return load_config(path, with_rules=False)
    except RuleError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _open_store(config: Config):
    from gateway.store import StoreError, open_store

    try:
        return open_store(config.relay.store_url or None, config.relay.data_dir)
    except StoreError as exc:
        raise SystemExit(f"gateway: {exc}") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from gateway.app import JsonLines, serve

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    config = _settings(_load(args.config), args)
    config.relay.data_dir.mkdir(parents=True, exist_ok=True)
    store = _open_store(config)
    sink = None
    if args.dev_sink:
        from gateway.deliver.devsink import DevSink

        sink = DevSink(config.relay.next_hop.host, config.relay.next_hop.port, Path(args.dev_sink).resolve())
    listen = (config.relay.listen.host, config.relay.listen.port)
    try:
        asyncio.run(serve(config, store, listen=listen, dev_sink=sink))
    except OSError as exc:
        raise SystemExit(f"gateway: cannot listen on {config.relay.listen} (or the dev sink on {config.relay.next_hop}): {exc.strerror}") from None
    return 0


def cmd_quarantine_list(args: argparse.Namespace) -> int:
    config = _settings(_load_for_store(args.config), args)
    store = _open_store(config)
    try:
        copies = store.copies(args.status, limit=args.limit or None, kind=None if args.all else "mail")
    except Exception as exc:  # noqa: BLE001 - StoreError with a clear message
        raise SystemExit(f"gateway: {exc}") from None
    if args.json:
        print(json.dumps([c.as_json() for c in copies], ensure_ascii=False, indent=1))
        return 0
    if not copies:
        print(f"no copies{' with status ' + args.status if args.status else ''}")
    for c in copies:
        cats = ",".join(sorted({f.category for f in c.findings})) or c.reason
        print(f"{c.id:>6}  {c.status:<9} {c.created_at:%Y-%m-%d %H:%M}  {c.mail_from} -> {c.recipient} "
              f"({c.recipient_class})  {c.subject[:40]!r}  [{cats}]")
    return 0


def cmd_quarantine_show(args: argparse.Namespace) -> int:
    from gateway.read.message import read_message

    config = _settings(_load_for_store(args.config), args)
    store = _open_store(config)
    if not args.id.isdigit():  # a queue id: show each of its copies
        copies = store.copies_of(args.id.upper())
        if not copies:
            raise SystemExit(f"gateway: no message with queue id {args.id} (see 'gateway quarantine list')")
        for c in copies:
            args.id = str(c.id)
            cmd_quarantine_show(args)
            print()
        return 0
    copy = store.copy(int(args.id))
    if copy is None:
        raise SystemExit(f"gateway: no copy with id {args.id} (see 'gateway quarantine list')")
    message = store.message(copy.message_id)
    assert message is not None
    env = message.envelope
    print(f"copy {copy.id} of message {message.id}: {copy.status} ({copy.reason})")
    if copy.decided_by:
        print(f"  decision   {copy.status} by {copy.decided_by} at {copy.decided_at:%Y-%m-%d %H:%M %Z}: {copy.decision_reason}")
    if copy.possible_duplicate:
        print("  warning    a delivery attempt died mid-way: the recipient may get this copy twice")
    print(f"  recipient  {copy.recipient} ({copy.recipient_class})")
    print(f"  sender     {env.mail_from or '<>'} from {env.client_address} ({env.client_helo})")
    print(f"  received   {message.received_at:%Y-%m-%d %H:%M:%S %Z}, {message.size} bytes, sha256 {message.sha256[:16]}")
    if copy.last_reply:
        print(f"  next hop   {copy.last_reply}")
    if message.scan_error:
        print(f"  held unscanned: {message.scan_error}")
    head_end = message.raw.find(b"\r\n\r\n")
    print("\nheaders:")
    for line in message.raw[: head_end if head_end >= 0 else 4096].decode("utf-8", "replace").splitlines()[:60]:
        print(f"  {line}")
    print(f"\nfindings ({len(copy.findings)}):")
    for f in copy.findings:
        where = f"{f.part}, {f.zone}{' (quoted)' if f.quoted else ''}"
        ctx = f.context.replace(f.evidence, f"[[{f.evidence}]]", 1) if f.evidence in f.context else f.context
        print(f"  - {f.category} by rule {f.rule} ({f.action}) in {where}")
        print(f"      ...{ctx}...")
        try:
            clause = config.rules.by_id(f.rule).clause
        except StopIteration:
            clause = ""
        if clause:
            print(f"      policy: {clause}")
    print("\ntext:")
    try:
        view = read_message(message.raw, config.directory.is_colleague)
        for seg in view.segments:
            if seg.is_link:
                continue
            print(f"  --- {seg.part} ---")
            for line in seg.text.text.splitlines():
                print(f"  {line}")
    except Exception as exc:  # noqa: BLE001 - an unreadable message is shown as such
        print(f"  (the message cannot be read as text: {type(exc).__name__}; it is held for that reason)")
    return 0


def cmd_smtp_password(args: argparse.Namespace) -> int:
    import argon2

    print(argon2.PasswordHasher().hash(_read_password()))
    return 0


def _decision(args: argparse.Namespace, decide) -> int:
    from gateway.review.decisions import DecisionError
    from gateway.store import StoreError

    config = _settings(_load_for_store(args.config), args)
    store = _open_store(config)
    try:
        results = decide(config, store, args.target)
    except (DecisionError, StoreError) as exc:
        raise SystemExit(f"gateway: {exc}") from None
    for r in results:
        print(r.describe())
    print("the running gateway delivers released copies and notices within seconds" if any(
        r.changed for r in results) else "nothing changed")
    return 0


def cmd_quarantine_release(args: argparse.Namespace) -> int:
    from gateway.review.decisions import release

    return _decision(args, lambda config, store, target: release(
        config, store, target, actor=args.as_user, reason=args.reason, recipient=args.recipient))


def cmd_quarantine_reject(args: argparse.Namespace) -> int:
    from gateway.review.decisions import reject

    return _decision(args, lambda config, store, target: reject(
        config, store, target, actor=args.as_user, reason=args.reason, tell_sender=args.tell_sender or "",
        recipient=args.recipient))


def _web_secret(config: Config) -> str:
    import os
    import secrets

    path = config.web.secret_file or config.relay.data_dir / "web-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.config import parse_host_port
    from gateway.web import create_app

    config = _settings(_load_for_store(args.config), args)
    store = _open_store(config)
    try:
        listen = parse_host_port(args.listen, "--listen") if args.listen else config.web.listen
    except ValueError as exc:
        raise SystemExit(f"gateway: {exc}") from None
    app = create_app(config, store, secret=_web_secret(config), https=config.web.https)
    print(f"gateway web: http://{listen}/ (store: {store.dialect})", file=sys.stderr)
    uvicorn.run(app, host=listen.host, port=listen.port, log_level="warning", proxy_headers=False)
    return 0


def _read_password() -> str:
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise SystemExit("gateway: the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        raise SystemExit("gateway: use at least 12 characters")
    return password


def cmd_user(args: argparse.Namespace) -> int:
    from gateway.store import StoreError
    from gateway.web import hash_password

    config = _settings(_load_for_store(args.config), args)
    store = _open_store(config)
    try:
        if args.user_command == "add":
            if store.user(args.name):
                raise SystemExit(f"gateway: user {args.name!r} exists; use 'gateway user passwd' or --role to change it")
            store.put_user(args.name, role=args.role, email=args.email or "", password_hash=hash_password(_read_password()))
            print(f"user {args.name} added ({args.role})")
        elif args.user_command == "passwd":
            if not store.user(args.name):
                raise SystemExit(f"gateway: no user {args.name!r}")
            store.put_user(args.name, password_hash=hash_password(_read_password()))
            print(f"password of {args.name} changed")
        elif args.user_command == "disable":
            store.put_user(args.name, disabled=True)
            print(f"user {args.name} disabled")
    except StoreError as exc:
        raise SystemExit(f"gateway: {exc}") from None
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

    def store_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", default=default_config)
        parser.add_argument("--data-dir", help="where the embedded SQLite store lives (default: relay.data_dir)")
        parser.add_argument("--store-url", help="postgresql://... instead of the embedded store (default: store.url)")

    sv = sub.add_parser("serve", help="run the SMTP gateway")
    store_args(sv)
    sv.add_argument("--listen", help="HOST:PORT to accept mail on (default: relay.listen)")
    sv.add_argument("--next-hop", help="HOST:PORT to forward clean mail to (default: next_hop.address)")
    sv.add_argument("--trusted-network", action="append", metavar="CIDR",
                    help="networks that may relay, repeatable (default: relay.trusted_networks)")
    sv.add_argument("--metrics-listen", metavar="HOST:PORT", help="serve /metrics here (default: relay.metrics_listen)")
    sv.add_argument("--dev-sink", metavar="DIR",
                    help="also run a development next hop on the next-hop address that saves mail in DIR")
    sv.set_defaults(func=cmd_serve)

    wb = sub.add_parser("web", help="run the reviewers' web app")
    store_args(wb)
    wb.add_argument("--listen", help="HOST:PORT (default: web.listen)")
    wb.set_defaults(func=cmd_web)

    us = sub.add_parser("user", help="web app accounts")
    usub = us.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser("add", help="add an account (the password is asked for, or read from stdin)")
    store_args(ua)
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=["reviewer", "admin", "auditor"])
    ua.add_argument("--email", help="their own address: a reviewer cannot decide on mail they sent")
    ua.set_defaults(func=cmd_user)
    up = usub.add_parser("passwd", help="set an account's password")
    store_args(up)
    up.add_argument("name")
    up.set_defaults(func=cmd_user)
    ud = usub.add_parser("disable", help="stop an account from logging in")
    store_args(ud)
    ud.add_argument("name")
    ud.set_defaults(func=cmd_user)

    pw = sub.add_parser("smtp-password", help="hash a password for the SMTP users file (reads stdin or asks)")
    pw.set_defaults(func=cmd_smtp_password)

    q = sub.add_parser("quarantine", help="held copies, for reviewers")
    qsub = q.add_subparsers(dest="quarantine_command", required=True)
    ql = qsub.add_parser("list", help="list copies (default: every status)")
    store_args(ql)
    ql.add_argument("--status", help="held, released, rejected, expired, delivered, queued or failed")
    ql.add_argument("--json", action="store_true")
    ql.add_argument("--all", action="store_true", help="include the notices and DSNs the gateway wrote")
    ql.add_argument("--limit", type=int, default=0, help="at most this many, oldest first (default: all)")
    ql.set_defaults(func=cmd_quarantine_list)
    qs = qsub.add_parser("show", help="one copy (or a queue id's copies): headers, findings in context, the text")
    store_args(qs)
    qs.add_argument("id", help="copy id, or queue id")
    qs.set_defaults(func=cmd_quarantine_show)
    for name, func, what in (("release", cmd_quarantine_release, "deliver held copies exactly as written"),
                             ("reject", cmd_quarantine_reject, "never deliver held copies; tell the sender")):
        d = qsub.add_parser(name, help=what)
        store_args(d)
        d.add_argument("target", metavar="ID", help="copy id, or queue id (all its held copies)")
        d.add_argument("--recipient", help="only the copy to this address")
        d.add_argument("--reason", required=True, help="why (kept in the audit log)")
        d.add_argument("--as", dest="as_user", required=True, metavar="USER", help="who is deciding")
        if name == "reject":
            d.add_argument("--tell-sender", help="a note to the sender, in the reviewer's words")
        d.set_defaults(func=func)

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
