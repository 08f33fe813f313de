"""gateway eval: score the rules on a labelled corpus (manifest.jsonl)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.common import DEFAULT_CONFIG, fail, load, parse_at
from gateway.evaluation import evaluate, format_report
from gateway.judge.pool import ScanPool


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    manifest = Path(args.manifest)
    if not manifest.is_file():
        raise fail(f"no manifest at {manifest}")
    with ScanPool(config, args.workers) as pool:
        report = evaluate(pool, manifest, parse_at(args.at, config))
    print(format_report(report))
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval", help="score the rules on a labelled corpus (manifest.jsonl)")
    e.add_argument("--config", default=DEFAULT_CONFIG)
    e.add_argument(
        "--at", help="judge approvals at this date-time (default: each message's Date header)"
    )
    e.add_argument("--workers", type=int, default=1, help="scan processes (default: 1)")
    e.add_argument("manifest")
    e.set_defaults(func=run)
