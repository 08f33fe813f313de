"""The ``gateway`` console script: one module per command.

check (scan files), eval (score rules on a labelled corpus), rules check,
serve (the SMTP gateway), web (the reviewers' app), quarantine (list, show,
release, reject), user and smtp-password (accounts).
"""

from __future__ import annotations

import argparse

from gateway.cli import check, evaluate, quarantine, rules, serve, users, web


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gateway", description="Chaperone: outbound e-mail compliance gateway for schools"
    )
    sub = p.add_subparsers(dest="command", required=True)
    for command in (check, evaluate, serve, web, users, quarantine, rules):
        command.add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
