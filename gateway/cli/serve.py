"""gateway serve: the SMTP gateway."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.cli.common import fail, load, store_arguments, store_of, with_arguments

if TYPE_CHECKING:
    from gateway.config import Config


def run(args: argparse.Namespace) -> int:
    from gateway.app import StartError, serve
    from gateway.app.logs import setup_logging

    if args.supervised_by is not None:
        return run_supervised(args.supervised_by)
    setup_logging()
    config = with_arguments(load(args.config), args)
    if args.processes is not None:
        if args.processes < 1:
            raise fail(f"--processes must be at least 1 (got {args.processes})")
        config = dataclasses.replace(
            config, relay=dataclasses.replace(config.relay, processes=args.processes)
        )
    config.relay.data_dir.mkdir(parents=True, exist_ok=True)
    store = store_of(config, health_check=True)
    sink = None
    if args.dev_sink:
        from gateway.deliver.devsink import DevSink

        sink = DevSink(
            config.relay.next_hop.host, config.relay.next_hop.port, Path(args.dev_sink).resolve()
        )
    if config.relay.processes > 1:
        # Checked and migrated once, here; the children open it as it is.
        store.close()
        return run_supervisor(config, sink)
    listen = (config.relay.listen.host, config.relay.listen.port)
    try:
        asyncio.run(serve(config, store, listen=listen, dev_sink=sink))
    except StartError as exc:
        raise fail(str(exc)) from None
    return 0


def run_supervisor(config: Config, sink: Any) -> int:
    import logging

    from gateway.app import StartError
    from gateway.app.processes import Supervisor, supported

    why_not = supported()
    if why_not:
        raise fail(why_not)
    for warning in config.warnings:
        logging.getLogger("chaperone").warning(
            "configuration", extra={"json": {"warning": warning}}
        )
    try:
        return asyncio.run(Supervisor(config, dev_sink=sink).run())
    except StartError as exc:
        raise fail(str(exc)) from None


def run_supervised(fd: int) -> int:
    """One relay process of several, its orders from the supervisor on socket ``fd``."""
    from gateway.app import StartError, serve
    from gateway.app.logs import setup_logging
    from gateway.app.processes import CANNOT_START, READY, answer, receive_orders

    channel = socket.socket(fileno=fd)
    orders = receive_orders(channel)
    setup_logging({"process": orders.slot, "pid": os.getpid()})
    config = orders.config
    listen = (config.relay.listen.host, config.relay.listen.port)
    try:
        store = store_of(config)
        asyncio.run(
            serve(
                config,
                store,
                listen=listen,
                ready=lambda: answer(channel, READY),
                supervisor=channel,
            )
        )
    except StartError as exc:
        answer(channel, CANNOT_START, str(exc))
        raise fail(str(exc)) from None
    except SystemExit as exc:  # the store could not be opened: fail() names it
        if isinstance(exc.code, str):
            answer(channel, CANNOT_START, exc.code.removeprefix("gateway: "))
        raise
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
        "--processes",
        type=int,
        metavar="N",
        help="relay processes sharing the SMTP port under one supervisor, Linux only "
        "(default: relay.processes, 1)",
    )
    sv.add_argument(
        "--dev-sink",
        metavar="DIR",
        help="also run a development next hop on the next-hop address that saves mail in DIR",
    )
    # How the supervisor starts each of its relay processes; not for people.
    sv.add_argument("--supervised-by", type=int, metavar="FD", help=argparse.SUPPRESS)
    sv.set_defaults(func=run)
