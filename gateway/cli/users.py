"""gateway user and smtp-password: accounts for the web app, and password hashes for SMTP AUTH."""

from __future__ import annotations

import argparse

from gateway.cli.common import (
    fail,
    load_for_store,
    read_password,
    store_arguments,
    store_of,
    with_arguments,
)
from gateway.mail import Role
from gateway.store import StoreError


def user(args: argparse.Namespace) -> int:
    from gateway.web import hash_password

    store = store_of(with_arguments(load_for_store(args.config), args))
    try:
        if args.user_command == "add":
            if store.user(args.name):
                raise fail(
                    f"user {args.name!r} exists; change it with 'gateway user passwd {args.name}'"
                    f" or 'gateway user role {args.name} ROLE'"
                )
            if args.lead and not Role(args.role).decides:
                raise fail("a safeguarding lead (--lead) is a reviewer or admin account")
            if Role(args.role).decides and not args.email:
                # Before asking for a password: the store would refuse the account anyway.
                raise fail(
                    f"a {args.role} account needs an e-mail address (--email ADDRESS): "
                    "a reviewer may not decide on their own mail"
                )
            store.put_user(
                args.name,
                role=args.role,
                email=args.email or "",
                password_hash=hash_password(read_password()),
                os_user=args.os_user,
                lead=args.lead,
            )
            print(
                f"user {args.name} added ({args.role}{', safeguarding lead' if args.lead else ''})"
            )
        elif args.user_command == "passwd":
            if not store.user(args.name):
                raise fail(f"no user {args.name!r}")
            store.put_user(args.name, password_hash=hash_password(read_password()))
            print(f"password of {args.name} changed")
        elif args.user_command == "disable":
            store.put_user(args.name, disabled=True)
            print(f"user {args.name} disabled; their sessions are ended")
        elif args.user_command == "enable":
            store.put_user(args.name, disabled=False)
            print(f"user {args.name} enabled (they log in again)")
        elif args.user_command == "role":
            store.put_user(args.name, role=args.role)
            print(f"user {args.name} is now {args.role}; their sessions are ended")
        elif args.user_command == "lead":
            if not store.user(args.name):
                raise fail(f"no user {args.name!r}")
            store.put_user(args.name, lead=args.on == "on")
            print(
                f"user {args.name} is "
                + ("a safeguarding lead" if args.on == "on" else "no longer a safeguarding lead")
            )
        elif args.user_command == "end-sessions":
            if not store.end_sessions(args.name, actor="cli", why="ended from the command line"):
                raise fail(f"no user {args.name!r}")
            print(f"every session of {args.name} is ended")
    except StoreError as exc:
        raise fail(str(exc)) from None
    return 0


def smtp_password(args: argparse.Namespace) -> int:
    import argon2

    print(argon2.PasswordHasher().hash(read_password()))
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    us = sub.add_parser("user", help="web app accounts")
    usub = us.add_subparsers(dest="user_command", required=True)
    ua = usub.add_parser(
        "add", help="add an account (the password is asked for, or read from stdin)"
    )
    store_arguments(ua)
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=[r.value for r in Role])
    ua.add_argument(
        "--email",
        help="their own address (required for reviewers and admins): a reviewer cannot "
        "decide on mail they sent",
    )
    ua.add_argument(
        "--os-user",
        metavar="LOGIN",
        help="the operating-system user who decides as this account in 'gateway quarantine'",
    )
    ua.add_argument(
        "--lead",
        action="store_true",
        help="a safeguarding lead: sees senders' histories and the concerns log, and is told "
        "when a concern opens",
    )
    ua.set_defaults(func=user)
    up = usub.add_parser("passwd", help="set an account's password")
    store_arguments(up)
    up.add_argument("name")
    up.set_defaults(func=user)
    for command, help in (
        ("disable", "stop an account from logging in, and end its sessions"),
        ("enable", "let a disabled account log in again"),
        ("end-sessions", "log an account out everywhere (a lost or shared device)"),
    ):
        one = usub.add_parser(command, help=help)
        store_arguments(one)
        one.add_argument("name")
        one.set_defaults(func=user)
    ur = usub.add_parser("role", help="change an account's role, and end its sessions")
    store_arguments(ur)
    ur.add_argument("name")
    ur.add_argument("role", choices=[r.value for r in Role])
    ur.set_defaults(func=user)
    ul = usub.add_parser(
        "lead", help="make an account a safeguarding lead (on), or no longer (off)"
    )
    store_arguments(ul)
    ul.add_argument("name")
    ul.add_argument("on", choices=["on", "off"])
    ul.set_defaults(func=user)
    pw = sub.add_parser(
        "smtp-password", help="hash a password for the SMTP users file (reads stdin or asks)"
    )
    pw.set_defaults(func=smtp_password)
