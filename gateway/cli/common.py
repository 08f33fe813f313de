"""What every command shares: loading the configuration, the store, and arguments over config."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import datetime
from ipaddress import ip_network
from pathlib import Path

from gateway.config import Config, load_config, parse_host_port
from gateway.judge.rules import RuleError
from gateway.store import Store, StoreError, open_store

DEFAULT_CONFIG = "config/gateway.toml"


def fail(message: str) -> SystemExit:
    return SystemExit(f"gateway: {message}")


def parse_at(value: str | None, config: Config) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise fail(
            f"--at {value!r} is not an ISO date or date-time (e.g. 2026-12-21T09:00)"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=config.timezone)


def warn(config: Config) -> None:
    for warning in config.warnings:
        print(f"gateway: warning: {warning}", file=sys.stderr)


def load(path: str) -> Config:
    try:
        config = load_config(path)
    except RuleError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    warn(config)
    return config


def load_for_store(path: str) -> Config:
    """Reviewers can still reach the store when a rule file is broken."""
    try:
        config = load_config(path)
    except RuleError as exc:
        print(
            f"gateway: warning: {exc} (rules not loaded; the store is still readable)",
            file=sys.stderr,
        )
    else:
        warn(config)
        return config
    try:
        return load_config(path, with_rules=False)
    except RuleError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def with_arguments(config: Config, args: argparse.Namespace) -> Config:
    """Apply --listen, --next-hop, --data-dir, --store-url, --trusted-network and --metrics-listen."""
    relay = config.relay
    try:
        if getattr(args, "listen", None):
            relay = dataclasses.replace(relay, listen=parse_host_port(args.listen, "--listen"))
        if getattr(args, "next_hop", None):
            relay = dataclasses.replace(
                relay, next_hop=parse_host_port(args.next_hop, "--next-hop")
            )
        if getattr(args, "metrics_listen", None):
            relay = dataclasses.replace(
                relay, metrics_listen=parse_host_port(args.metrics_listen, "--metrics-listen")
            )
    except ValueError as exc:
        raise fail(str(exc)) from None
    if getattr(args, "data_dir", None):
        relay = dataclasses.replace(relay, data_dir=Path(args.data_dir).resolve())
    if getattr(args, "store_url", None):
        relay = dataclasses.replace(relay, store_url=args.store_url)
    if getattr(args, "trusted_network", None):
        try:
            nets = tuple(ip_network(n, strict=False) for n in args.trusted_network)
        except ValueError as exc:
            raise fail(f"--trusted-network: {exc}") from None
        relay = dataclasses.replace(relay, trusted_networks=nets)
    return dataclasses.replace(config, relay=relay)


def store_of(config: Config, *, health_check: bool = False) -> Store:
    try:
        return open_store(
            config.relay.store_url or None, config.relay.data_dir, health_check=health_check
        )
    except StoreError as exc:
        raise fail(str(exc)) from None


def store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument(
        "--data-dir", help="where the embedded SQLite store lives (default: relay.data_dir)"
    )
    parser.add_argument(
        "--store-url", help="postgresql://... instead of the embedded store (default: store.url)"
    )


def read_password() -> str:
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise fail("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        raise fail("use at least 12 characters")
    return password


def os_login() -> str:
    """The operating-system user running this command, from the kernel's uid (not $USER,
    which anyone can set)."""
    import os
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def acting_account(store: Store, as_user: str | None) -> str:
    """The account a CLI decision is made as: never a name merely typed.

    Without ``--as``: the account mapped to this operating-system user
    (``gateway user add ... --os-user LOGIN``). With ``--as NAME``: that account,
    if it is mapped to this user, or else proven by its password
    (``CHAPERONE_PASSWORD``, or asked for at a terminal).
    """
    import getpass
    import math
    import os

    import argon2

    from gateway.mail import now_utc
    from gateway.review.logins import FAILURE_WINDOW, seconds_to_wait

    login = os_login()
    if as_user is None:
        mapped = store.user_of_os_user(login)
        if mapped is None:
            raise fail(
                f"no account is mapped to the operating-system user {login!r}: use --as NAME "
                f"(with its password), or have an admin run 'gateway user add NAME ... --os-user {login}'"
            )
        return mapped.name
    account = store.user(as_user)
    if account is None:
        raise fail(f"no account {as_user!r} (see 'gateway user add')")
    if account.os_user and account.os_user == login:
        return account.name
    password = os.environ.get("CHAPERONE_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise fail(f"--as {as_user}: give its password (CHAPERONE_PASSWORD, or at a terminal)")
        password = getpass.getpass(f"password of {as_user}: ")
    # Counted with the web app's logins, so guessing here is limited as it is there.
    client = f"cli:{login}"
    now = now_utc()
    reserved = store.reserve_login(
        as_user, client, now - FAILURE_WINDOW, lambda h: seconds_to_wait(h, now), at=now
    )
    if isinstance(reserved, float):
        raise fail(f"too many wrong passwords for {as_user}: try again in {math.ceil(reserved)} s")
    try:
        argon2.PasswordHasher().verify(account.password_hash, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        raise fail(f"wrong password for {as_user}") from None  # the attempt stays counted
    store.login_succeeded(reserved, as_user, client)
    return account.name
