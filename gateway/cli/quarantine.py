"""gateway quarantine: list, show, release and reject held copies from a terminal."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from gateway.cli.common import (
    acting_account,
    fail,
    load_for_store,
    store_arguments,
    store_of,
    with_arguments,
)
from gateway.config import Config
from gateway.mail import CopyStatus, printable
from gateway.review.decisions import DecisionError, DecisionResult, reject, release
from gateway.review.held import held_copy
from gateway.review.tuning import RELEASE_VERDICTS
from gateway.store import Store, StoreError


def list_copies(args: argparse.Namespace) -> int:
    store = store_of(with_arguments(load_for_store(args.config), args))
    try:
        copies = store.copies(
            args.status, limit=args.limit or None, kind=None if args.all else "mail"
        )
    except StoreError as exc:
        raise fail(str(exc)) from None
    if args.json:
        print(json.dumps([c.as_json() for c in copies], ensure_ascii=False, indent=1))
        return 0
    if not copies:
        print(f"no copies{' with status ' + args.status if args.status else ''}")
    for c in copies:
        cats = ",".join(sorted({f.category for f in c.findings})) or c.reason
        print(
            f"{c.id:>6}  {c.status:<9} {c.created_at:%Y-%m-%d %H:%M}  {c.mail_from} -> {c.recipient} "
            f"({c.recipient_class})  {printable(c.subject)[:40]!r}  [{cats}]"
        )
    return 0


def show(args: argparse.Namespace) -> int:
    config = with_arguments(load_for_store(args.config), args)
    store = store_of(config)
    if not args.id.isdigit():  # a queue id: show each of its copies
        copies = store.copies_of(args.id.upper())
        if not copies:
            raise fail(f"no message with queue id {args.id} (see 'gateway quarantine list')")
        for c in copies:
            _show_one(config, store, c.id)
            print()
        return 0
    _show_one(config, store, int(args.id))
    return 0


def _show_one(config: Config, store: Store, copy_id: int) -> None:
    copy = store.copy(copy_id)
    message = store.message(copy.message_id) if copy else None
    if copy is None or message is None:
        raise fail(f"no copy with id {copy_id} (see 'gateway quarantine list')")
    held = held_copy(config, copy, message)
    env = message.envelope
    print(f"copy {copy.id} of message {message.id}: {copy.status} ({copy.reason})")
    if copy.decided_by:
        print(
            f"  decision   {copy.status} by {copy.decided_by} at {copy.decided_at:%Y-%m-%d %H:%M %Z}: "
            f"{copy.decision_reason}"
        )
    print(f"  recipient  {copy.recipient} ({copy.recipient_class})")
    print(f"  sender     {env.mail_from or '<>'} from {env.client_address} ({env.client_helo})")
    print(
        f"  received   {message.received_at:%Y-%m-%d %H:%M:%S %Z}, {message.size} bytes, "
        f"sha256 {message.sha256[:16]}"
    )
    if copy.last_reply:
        print(f"  next hop   {copy.last_reply}")
    if copy.status == "held" and (approvals := store.release_approvals(copy.id)):
        print(f"  approved   for release by {', '.join(approvals)}; waiting for another reviewer")
    for p in store.proposed_exceptions(copy.id):
        scope = ", ".join(p["senders"]) or "all staff"
        print(
            f"  proposed   exception for {p['kind']} {p['value']} ({scope}, until {p['until'] or 'no end'}) "
            f"by {p['proposed_by']}: in force when the release completes"
        )
    for warning in held.warnings:
        print(f"  warning    {warning}")
    print("\nheaders:")
    for line in held.headers:
        print(f"  {line}")
    print(f"\nfindings ({len(held.findings)}):")
    for s in held.findings:
        f = s.finding
        print(f"  - {f.category} by rule {f.rule} ({f.action}) in {s.where}")
        print(f"      ...{printable(s.marked_context)}...")
        if s.clause:
            print(f"      policy: {s.clause}")
    print("\ntext:")
    if held.unreadable:
        print(f"  ({held.unreadable})")
    for part in held.text:
        print(f"  --- {part.part} ---")
        for line in part.text.splitlines():
            print(f"  {printable(line)}")


def _decision(
    args: argparse.Namespace, decide: Callable[[Config, Store], list[DecisionResult]]
) -> int:
    config = with_arguments(load_for_store(args.config), args)
    store = store_of(config)
    try:
        results = decide(config, store)
    except (DecisionError, StoreError) as exc:
        raise fail(str(exc)) from None
    for r in results:
        print(r.describe())
    print(
        "the running gateway delivers released copies and notices within seconds"
        if any(r.changed for r in results)
        else "nothing changed"
    )
    return 0


def release_copies(args: argparse.Namespace) -> int:
    return _decision(
        args,
        lambda config, store: release(
            config,
            store,
            args.target,
            actor=acting_account(store, args.as_user),
            reason=args.reason,
            recipient=args.recipient,
            verdict=args.verdict,
        ),
    )


def reject_copies(args: argparse.Namespace) -> int:
    return _decision(
        args,
        lambda config, store: reject(
            config,
            store,
            args.target,
            actor=acting_account(store, args.as_user),
            reason=args.reason,
            tell_sender=args.tell_sender or "",
            recipient=args.recipient,
        ),
    )


def add(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser("quarantine", help="held copies, for reviewers")
    qsub = q.add_subparsers(dest="quarantine_command", required=True)
    ql = qsub.add_parser("list", help="list copies (default: every status)")
    store_arguments(ql)
    ql.add_argument(
        "--status",
        choices=[s.value for s in CopyStatus],
        metavar="STATUS",
        help="held, released, rejected, expired, delivered, queued or failed",
    )
    ql.add_argument("--json", action="store_true")
    ql.add_argument(
        "--all", action="store_true", help="include the notices and DSNs the gateway wrote"
    )
    ql.add_argument(
        "--limit", type=int, default=0, help="at most this many, oldest first (default: all)"
    )
    ql.set_defaults(func=list_copies)
    qs = qsub.add_parser(
        "show", help="one copy (or a queue id's copies): headers, findings in context, the text"
    )
    store_arguments(qs)
    qs.add_argument("id", help="copy id, or queue id")
    qs.set_defaults(func=show)
    for name, func, what in (
        ("release", release_copies, "deliver held copies exactly as written"),
        ("reject", reject_copies, "never deliver held copies; tell the sender"),
    ):
        d = qsub.add_parser(name, help=what)
        store_arguments(d)
        d.add_argument("target", metavar="ID", help="copy id, or queue id (all its held copies)")
        d.add_argument("--recipient", help="only the copy to this address")
        d.add_argument("--reason", required=True, help="why (kept in the audit log)")
        d.add_argument(
            "--as",
            dest="as_user",
            metavar="USER",
            help="decide as this account, proven by its password (CHAPERONE_PASSWORD or asked); "
            "without it, the account mapped to your operating-system user (--os-user)",
        )
        if name == "reject":
            d.add_argument("--tell-sender", help="a note to the sender, in the reviewer's words")
        else:
            d.add_argument(
                "--verdict",
                choices=list(RELEASE_VERDICTS),
                help="was the hold a breach? "
                + "; ".join(f"{k}: {v}" for k, v in RELEASE_VERDICTS.items())
                + " (each rule's precision on the rules page is read from it)",
            )
        d.set_defaults(func=func)
