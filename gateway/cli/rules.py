"""gateway rules check: validate the configuration and rules, and list what is loaded;
gateway rules export: the rule files with the changes made in the web app applied."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.common import DEFAULT_CONFIG, fail, load, store_arguments, store_of, with_arguments


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


def export(args: argparse.Namespace) -> int:
    from gateway.review.tuning import app_changes, export_rules

    config = load(args.config)
    store = store_of(with_arguments(config, args))
    out = Path(args.folder)
    if out.resolve() in {Path(f).resolve().parent for f in config.rules.files}:
        raise fail(f"{out} holds the rule files in use; export to another folder and compare")
    changes = app_changes(store.rule_changes())
    for path in export_rules(config, store, out):
        print(f"wrote {path}")
    for rule, keys in sorted(changes.items()):
        print(f"  {rule}: {', '.join(sorted(keys))} as changed in the app")
    if not changes:
        print("  no rule is changed in the app: the files are as they are")
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("rules", help="rule maintenance")
    rsub = r.add_subparsers(dest="rules_command", required=True)
    rc = rsub.add_parser("check", help="validate configuration and rules and list what is loaded")
    rc.add_argument("--config", default=DEFAULT_CONFIG)
    rc.set_defaults(func=check)
    re = rsub.add_parser(
        "export",
        help="write the rule files with the changes made in the web app applied (comments kept)",
    )
    store_arguments(re)
    re.add_argument("folder", help="where to write them (not the rules folder in use)")
    re.set_defaults(func=export)
