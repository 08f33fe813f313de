"""The composition root: one running gateway, built from its parts and supervised.

``Gateway`` wires the stages in the order mail moves: the SMTP edge
(``gateway.receive``) hands each message to ``MailPath``, which scans it in
the scan pool (``gateway.judge``), disposes of each copy
(``gateway.dispose``), commits what must wait to the store and forwards the
rest (``gateway.deliver``). Around that run the background tasks: the
delivery queue and the reload watcher. A background task that dies is
logged and started again; none is ever silently gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from gateway.app.logs import setup_logging
from gateway.app.metrics import Metrics
from gateway.app.reload import Reloader, with_store
from gateway.app.transaction import MailPath
from gateway.config import Config
from gateway.deliver.next_hop import NextHop
from gateway.deliver.outbox import Outbox
from gateway.judge.pool import ScanWorkers
from gateway.mail import Envelope
from gateway.receive.access import Access
from gateway.receive.handler import RelayHandler
from gateway.receive.listener import Listener
from gateway.store import Store, StoreError
from gateway.store.disk import DiskFloor

log = logging.getLogger("chaperone")


class StartError(Exception):
    """The gateway cannot start; the message names the address or file at fault."""


def usable_cpus() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _cannot_listen(what: str, address: object, key: str, exc: OSError) -> StartError:
    return StartError(f"cannot {what} on {address} ({key}): {exc.strerror or exc}")


class Gateway:
    """One running relay: listener, scan workers, next hop, store, outbox, reload."""

    def __init__(self, config: Config, store: Store, *, metrics: Metrics | None = None) -> None:
        # Approved details that reviewers added, and rule actions admins set, live in the store.
        self.config = dataclasses.replace(
            with_store(config.path, store, config), relay=config.relay
        )
        self.settings = config.relay
        self.store = store
        self.metrics = metrics or Metrics()
        s = self.settings
        # The workers' log lines (pypdf's among them) are JSON lines too.
        self.workers = ScanWorkers(
            self.config, s.scan_workers_each(usable_cpus()), setup=setup_logging
        )
        self.next_hop = NextHop(
            s.next_hop,
            local_hostname=s.hostname,
            starttls=s.next_hop_starttls,
            ca_file=str(s.next_hop_ca_file) if s.next_hop_ca_file else None,
            timeout=s.next_hop_timeout_seconds,
            max_connections=s.next_hop_connections,
        )
        self._db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chaperone-store")
        self._outbox_wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self.outbox = Outbox(
            lambda: self.config,
            store,
            self.next_hop,
            run=self._db,
            on_attempt=lambda outcome: self.metrics.delivery_attempts.labels(outcome).inc(),
        )
        self.path = MailPath(
            lambda: self.config,
            store,
            self.workers,
            self.next_hop,
            self.outbox,
            self.metrics,
            run=self._db,
            wake_outbox=self._outbox_wake.set,
        )
        self.reloader = Reloader(self, store.versions())
        self.disk = DiskFloor(store.path, s.min_free_disk_mb)
        self.handler = RelayHandler(
            s,
            Access(s.trusted_networks, s.auth_users),
            lambda env, raw: self.process(env, raw),
            self.disk.low,
        )
        self.listener = Listener(s, self.handler, on_count=self.metrics.connections.set)
        self._background: list[asyncio.Task[None]] = []

    @property
    def inflight(self) -> set[asyncio.Task[str]]:
        return self.handler.inflight

    async def process(self, env: Envelope, raw: bytes) -> str:
        return await self.path.process(env, raw)

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(
            self._db_pool, partial(fn, *args, **kwargs)
        )

    def use(self, config: Config) -> None:
        """Scan with this configuration from now on (the reloader's only way in)."""
        self.workers.replace(config)  # first: if new workers cannot start, nothing has changed
        self.config = config

    # -- background work -------------------------------------------------------
    async def run_outbox(self) -> None:
        last_housekeeping = 0.0
        while not self._stopped.is_set():
            attempted = 0
            try:
                attempted = await self.outbox.run_once()
                if time.monotonic() - last_housekeeping > 60:
                    last_housekeeping = time.monotonic()
                    await self.outbox.housekeeping()
                await self._refresh_gauges()
            except StoreError as exc:
                log.error("delivery queue: store unavailable", extra={"json": {"error": str(exc)}})
            except Exception:  # noqa: BLE001 - the loop must survive; the copy stays queued
                log.exception("delivery queue error")
            if attempted:
                continue
            self._outbox_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox_wake.wait(), timeout=1.0)

    async def _refresh_gauges(self) -> None:
        counts = await self._db(self.store.counts)
        for status, n in counts.items():
            self.metrics.copies_by_status.labels(status).set(n)

    async def _supervise(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``run`` until the gateway stops; if it dies, log why and start it again."""
        delay = 1.0
        while not self._stopped.is_set():
            started = time.monotonic()
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged, counted and restarted: never silently gone
                log.exception("background task died; restarting it", extra={"json": {"task": name}})
                self.metrics.task_restarts.labels(name).inc()
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 30.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=delay)

    # -- lifecycle -------------------------------------------------------------
    async def start(self, listen_host: str, listen_port: int, *, reuse_port: bool = False) -> None:
        await self.listener.start(listen_host, listen_port, reuse_port=reuse_port)
        self._background = [
            asyncio.ensure_future(self._supervise("delivery queue", self.run_outbox)),
            asyncio.ensure_future(self._supervise("reload watcher", self.reloader.watch)),
        ]

    async def reload(self, why: str) -> bool:
        return await self.reloader.reload(why)

    async def stop(self, grace: float = 60.0) -> None:
        """Stop taking connections, let transactions under way finish, then close."""
        await self.listener.stop(grace)
        self._stopped.set()
        self._outbox_wake.set()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.next_hop.close()
        self.workers.close()
        self._db_pool.shutdown(wait=True)
        self.store.close()


async def serve(
    config: Config,
    store: Store,
    *,
    listen: tuple[str, int],
    ready: Callable[[], None] | None = None,
    dev_sink: Any = None,
    supervisor: socket.socket | None = None,
) -> None:
    """Run until SIGTERM or SIGINT; SIGHUP reloads rules and configuration.

    ``supervisor``: this is one of several relay processes
    (``gateway.app.processes``); it shares the port with the others, and
    drains and stops, as on SIGTERM, if the supervisor's end of this socket
    closes (the supervisor is gone).
    """
    metrics = Metrics()
    s = config.relay
    if s.metrics_listen:  # before the scan workers start, so a busy port stops nothing half-started
        try:
            metrics.serve(s.metrics_listen)
        except OSError as exc:
            raise _cannot_listen(
                "serve metrics", s.metrics_listen, "relay.metrics_listen", exc
            ) from exc
    gateway = Gateway(config, store, metrics=metrics)
    for warning in config.warnings:
        log.warning("configuration", extra={"json": {"warning": warning}})
    try:
        if dev_sink is not None:
            try:
                await dev_sink.start()
            except OSError as exc:
                raise _cannot_listen(
                    "run the dev sink", s.next_hop, "next_hop.address", exc
                ) from exc
        try:
            await gateway.start(*listen, reuse_port=supervisor is not None)
        except OSError as exc:
            where = f"{listen[0]}:{listen[1]}"
            raise _cannot_listen("listen for SMTP", where, "relay.listen", exc) from exc
    except StartError:
        await gateway.stop(grace=0)  # the scan workers and the store, closed before the exit
        raise
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(gateway.reload("SIGHUP")))
    if supervisor is not None:
        supervisor.setblocking(False)

        def supervisor_said() -> None:
            try:
                if supervisor.recv(64):
                    return
            except BlockingIOError:
                return
            except OSError:
                pass
            log.error("the supervisor is gone: stopping")
            loop.remove_reader(supervisor.fileno())
            stop.set()

        loop.add_reader(supervisor.fileno(), supervisor_said)
    log.info(
        "listening",
        extra={
            "json": {
                "listen": f"{listen[0]}:{listen[1]}",
                "next_hop": str(config.relay.next_hop),
                "store": store.dialect,
                "rules": len(config.rules.rules),
                "metrics": str(config.relay.metrics_listen or ""),
            }
        },
    )
    if ready:
        ready()
    await stop.wait()
    log.info(
        "stopping: finishing transactions under way",
        extra={"json": {"inflight": len(gateway.inflight)}},
    )
    await gateway.stop()
    if dev_sink is not None:
        await dev_sink.stop()
    log.info("stopped")
