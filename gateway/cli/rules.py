"""gateway rules check: validate the configuration and rules, and list what is loaded."""

from __future__ import annotations

import argparse

from gateway.cli.common import DEFAULT_CONFIG, load


def check(args: argparse.Namespace) -> int:
    config = load(args.config)
    print(
        f"configuration {config.path}: OK ({config.school_name})"
        + (f", {len(config.warnings)} warning(s) above" if config.warnings else "")
    )
    d = config.directory
    print(
        f"  directory: {len(d.parents)} parents, {len(d.students)} students, {len(d.staff_names)} staff"
    )
    print(f"  approved details: {len(config.approved)}")
    for a in config.approved:
        until = f", until {a.until:%Y-%m-%d %H:%M %Z}" if a.until else ""
        print(f"    {a.kind:<8} {a.value:<32} {a.label}{until}")
    print(f"  approved platforms: {', '.join(config.official_platforms) or '-'}")
    active = len(config.rules.active)
    print(
        f"rules: {len(config.rules.rules)} from {len(config.rules.files)} files"
        + (
            f", {len(config.rules.rules) - active} switched off"
            if active < len(config.rules.rules)
            else ""
        )
    )
    if config.rules.retired:
        print(f"  retired on purpose: {', '.join(config.rules.retired)}")
    for r in config.rules.rules:
        print(
            f"  {r.id:<36} {r.category:<20} {r.action:<10} {','.join(r.applies_to):<16} {r.source}"
        )
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("rules", help="rule maintenance")
    rsub = r.add_subparsers(dest="rules_command", required=True)
    rc = rsub.add_parser("check", help="validate configuration and rules and list what is loaded")
    rc.add_argument("--config", default=DEFAULT_CONFIG)
    rc.set_defaults(func=check)
