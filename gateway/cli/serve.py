"""gateway serve: the SMTP gateway."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.cli.common import fail, load, store_arguments, store_of, with_arguments


def run(args: argparse.Namespace) -> int:
    from gateway.app import StartError, serve
    from gateway.app.logs import setup_logging

    setup_logging()
    config = with_arguments(load(args.config), args)
    config.relay.data_dir.mkdir(parents=True, exist_ok=True)
    store = store_of(config, health_check=True)
    sink = None
    if args.dev_sink:
        from gateway.deliver.devsink import DevSink

        sink = DevSink(
            config.relay.next_hop.host, config.relay.next_hop.port, Path(args.dev_sink).resolve()
        )
    listen = (config.relay.listen.host, config.relay.listen.port)
    try:
        asyncio.run(serve(config, store, listen=listen, dev_sink=sink))
    except StartError as exc:
        raise fail(str(exc)) from None
    return 0


def add(sub: argparse._SubParsersAction) -> None:
    sv = sub.add_parser("serve", help="run the SMTP gateway")
    store_arguments(sv)
    sv.add_argument("--listen", help="HOST:PORT to accept mail on (default: relay.listen)")
    sv.add_argument(
        "--next-hop", help="HOST:PORT to forward clean mail to (default: next_hop.address)"
    )
    sv.add_argument(
        "--trusted-network",
        action="append",
        metavar="CIDR",
        help="networks that may relay, repeatable (default: relay.trusted_networks)",
    )
    sv.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        help="serve /metrics here (default: relay.metrics_listen)",
    )
    sv.add_argument(
        "--dev-sink",
        metavar="DIR",
        help="also run a development next hop on the next-hop address that saves mail in DIR",
    )
    sv.set_defaults(func=run)
