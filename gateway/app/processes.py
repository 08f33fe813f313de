"""Several relay processes on one port, under one supervising parent.

``gateway serve --processes N`` (``relay.processes``) runs N copies of the
relay, each with its own event loop, scan workers and store connections, all
listening on the same SMTP port with SO_REUSEPORT, so the kernel spreads new
connections over them. What lasts is shared: the one store, and in it the
delivery queue, whose claims are a compare-and-set with a lease (the design
that lets several nodes share one PostgreSQL), so a stored copy is tried by
one process at a time. On SQLite, ``BEGIN IMMEDIATE`` serialises writers
across processes as it does across threads.

The parent runs no SMTP. It checks that the port is free (a second gateway
on the same port would otherwise join the first one's SO_REUSEPORT group),
serves the metrics of all its children together, starts them, forwards
SIGHUP (reload) and SIGTERM or SIGINT (drain) to them, and starts again a
child that died, after a backoff. A child hears its orders (the resolved
configuration and its number) over a socket pair and answers on it that it
is listening, or why it could not start; the same socket closing tells a
child that its parent is gone, and it drains and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import pickle
import shutil
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass
from typing import Any

from gateway.app import StartError, _cannot_listen, usable_cpus
from gateway.config import Config

log = logging.getLogger("chaperone")

# A child that dies is started again after this, doubling while it keeps
# dying within RESTART_RESET_SECONDS of its start, up to RESTART_MAX_SECONDS.
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
RESTART_RESET_SECONDS = 60.0
# A child that fails this many starts in a row (it never got to listen) is
# not going to: the supervisor stops the others and exits with status 1.
MAX_START_FAILURES = 5
# From starting a child to its answer: importing, opening the store, starting scan workers.
START_TIMEOUT_SECONDS = 120.0

READY = "ready"
CANNOT_START = "cannot-start"


@dataclass(frozen=True, slots=True)
class Orders:
    """What a child needs to run: the configuration the parent resolved, and its number."""

    config: Config
    slot: int


def supported() -> str | None:
    """None when several processes can share a port here; else why not."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        # BSD and macOS have SO_REUSEPORT, but without Linux's spreading of
        # connections: the last process to bind would get them all.
        return f"relay.processes above 1 needs Linux (SO_REUSEPORT); this is {sys.platform}"
    return None


# -- the child's side of the socket ---------------------------------------------------


def receive_orders(channel: socket.socket) -> Orders:
    """Block until the parent has sent this child its orders."""
    head = _read_exactly(channel, 4)
    orders = pickle.loads(_read_exactly(channel, struct.unpack("!I", head)[0]))
    assert isinstance(orders, Orders)
    return orders


def _read_exactly(channel: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = channel.recv(n - len(out))
        if not chunk:
            raise EOFError("the supervisor closed the channel before sending orders")
        out += chunk
    return bytes(out)


def answer(channel: socket.socket, word: str, detail: str = "") -> None:
    """Tell the parent READY, or CANNOT_START with the reason (one line)."""
    line = f"{word} {' '.join(detail.split())}".strip() + "\n"
    with contextlib.suppress(OSError):  # the parent may be gone already
        channel.setblocking(True)
        channel.sendall(line.encode())


# -- the parent ------------------------------------------------------------------------


class ChildCannotStart(Exception):
    """A child exited, or said why it could not start, before it was listening."""


@dataclass
class _Child:
    slot: int
    process: asyncio.subprocess.Process
    channel: socket.socket
    started: float


def _status(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit status {code}"


class Supervisor:
    """Starts ``config.relay.processes`` relay children and keeps them running until told to stop."""

    def __init__(self, config: Config, *, dev_sink: Any = None) -> None:
        self.config = config
        self.settings = config.relay
        self.dev_sink = dev_sink
        self.children: dict[int, _Child] = {}
        self._stopping = asyncio.Event()
        self._gave_up: str | None = None
        # Each child's metric values, in files (prometheus_client's multiprocess mode);
        # emptied at start, since values of an earlier run must not count.
        self._metrics_dir = config.relay.data_dir / "process-metrics"

    # -- start-up ------------------------------------------------------------------
    def _check_port_free(self) -> None:
        """Bind (without SO_REUSEPORT, without listening) where the children will listen.

        The children bind with SO_REUSEPORT, and so would another gateway's:
        the kernel would let both groups share the port. This bind fails if
        anyone at all holds it, which is the start-up error the user must see.
        """
        host, port = self.settings.listen.host, self.settings.listen.port
        try:
            for family, kind, proto, _, address in socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            ):
                with socket.socket(family, kind, proto) as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if family == socket.AF_INET6:
                        probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    probe.bind(address)
        except OSError as exc:
            raise _cannot_listen(
                "listen for SMTP", self.settings.listen, "relay.listen", exc
            ) from exc

    def _serve_metrics(self) -> None:
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        address = self.settings.metrics_listen
        if address is None:
            return
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self._metrics_dir))
        try:
            start_http_server(address.port, addr=address.host, registry=registry)
        except OSError as exc:
            raise _cannot_listen("serve metrics", address, "relay.metrics_listen", exc) from exc

    async def _start(self, slot: int) -> _Child:
        """One child, listening; ChildCannotStart with its reason if it does not get there."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        # The metrics are the supervisor's to serve; each child gets its share of the cores.
        relay = dataclasses.replace(
            self.settings,
            metrics_listen=None,
            scan_workers=self.settings.scan_workers_each(usable_cpus()),
        )
        orders = pickle.dumps(
            Orders(dataclasses.replace(self.config, relay=relay, warnings=()), slot),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        with theirs:
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "serve",
                    "--supervised-by",
                    str(theirs.fileno()),
                    pass_fds=(theirs.fileno(),),
                    env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(self._metrics_dir)},
                )
            except OSError as exc:
                ours.close()
                raise ChildCannotStart(f"cannot start a relay process: {exc}") from exc
        child = _Child(slot, process, ours, time.monotonic())
        self.children[slot] = child
        ours.setblocking(False)
        try:
            await loop.sock_sendall(ours, struct.pack("!I", len(orders)) + orders)
            async with asyncio.timeout(START_TIMEOUT_SECONDS):
                reply = b""
                while b"\n" not in reply:
                    chunk = await loop.sock_recv(ours, 4096)
                    if not chunk:
                        break
                    reply += chunk
        except (OSError, TimeoutError) as exc:
            reply = f"{CANNOT_START} no answer from the process ({exc or 'timed out'})".encode()
        word, _, detail = reply.decode(errors="replace").strip().partition(" ")
        if word == READY:
            return child
        try:  # it is on its way out (its socket closed first); one that is stuck is killed
            code = await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            code = await process.wait()
        self._gone(child)
        raise ChildCannotStart(
            detail
            if word == CANNOT_START
            else f"relay process {slot} ended ({_status(code)}) before it listened; its log says why"
        )

    def _gone(self, child: _Child) -> None:
        from prometheus_client import multiprocess

        child.channel.close()
        if self.children.get(child.slot) is child:
            del self.children[child.slot]
        # Its open connections no longer count; its counters stay in the sums.
        multiprocess.mark_process_dead(child.process.pid, str(self._metrics_dir))

    async def _start_all(self) -> None:
        results = await asyncio.gather(
            *(self._start(slot) for slot in range(self.settings.processes)),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await self._stop_children()
            raise StartError(str(failed[0]))

    # -- running ---------------------------------------------------------------------
    async def _keep(self, slot: int) -> int:
        """Keep a child in ``slot`` running: start it again after it dies, with a backoff.

        Once told to stop, the exit status of its last child (0 if there was none)."""
        delay = RESTART_FIRST_SECONDS
        failures = 0
        child: _Child | None = self.children.get(slot)
        while True:
            if child is not None:
                code = await child.process.wait()
                self._gone(child)
                if self._stopping.is_set():
                    return code
                if time.monotonic() - child.started > RESTART_RESET_SECONDS:
                    delay = RESTART_FIRST_SECONDS
                log.error(
                    "supervisor: relay process died; starting it again",
                    extra={
                        "json": {
                            "process": slot,
                            "pid": child.process.pid,
                            "status": _status(code),
                            "restart_in_seconds": delay,
                        }
                    },
                )
                child = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            if self._stopping.is_set():
                return 0
            delay = min(delay * 2, RESTART_MAX_SECONDS)
            try:
                child = await self._start(slot)
            except ChildCannotStart as exc:
                failures += 1
                log.error(
                    "supervisor: relay process could not start",
                    extra={"json": {"process": slot, "error": str(exc), "failures": failures}},
                )
                if failures >= MAX_START_FAILURES:
                    self._gave_up = (
                        f"relay process {slot} failed to start {failures} times in a row: {exc}"
                    )
                    self._stopping.set()
                    return 1
                continue
            failures = 0
            log.info(
                "supervisor: relay process started again",
                extra={"json": {"process": slot, "pid": child.process.pid}},
            )
            if self._stopping.is_set():  # told to stop while this one was starting
                self._signal(child, signal.SIGTERM)

    def _signal(self, child: _Child, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(sig)

    def _forward(self, sig: int) -> None:
        for child in list(self.children.values()):
            self._signal(child, sig)

    async def _stop_children(self) -> list[int]:
        self._forward(signal.SIGTERM)
        codes = []
        for child in list(self.children.values()):
            codes.append(await child.process.wait())
            self._gone(child)
        return codes

    async def run(self) -> int:
        """0 once every child has drained and exited cleanly after SIGTERM or SIGINT."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: self._forward(signal.SIGHUP))
        shutil.rmtree(self._metrics_dir, ignore_errors=True)
        self._metrics_dir.mkdir(mode=0o700, parents=True)
        try:
            self._check_port_free()
            self._serve_metrics()
            if self.dev_sink is not None:
                try:
                    await self.dev_sink.start()
                except OSError as exc:
                    raise _cannot_listen(
                        "run the dev sink", self.settings.next_hop, "next_hop.address", exc
                    ) from exc
            await self._start_all()
        except BaseException:
            if self.dev_sink is not None:
                await self.dev_sink.stop()
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
            raise
        s = self.settings
        log.info(
            "all processes listening",
            extra={
                "json": {
                    "listen": str(s.listen),
                    "processes": s.processes,
                    "pids": [c.process.pid for c in sorted(self.children.values(), key=_slot)],
                    "scan_workers_each": s.scan_workers_each(usable_cpus()),
                    "metrics": str(s.metrics_listen or ""),
                }
            },
        )
        keepers = [asyncio.ensure_future(self._keep(slot)) for slot in range(s.processes)]
        await self._stopping.wait()
        log.info(
            "supervisor: stopping; every process finishes its transactions under way",
            extra={"json": {"processes": len(self.children)}},
        )
        self._forward(signal.SIGTERM)
        codes = list(await asyncio.gather(*keepers))
        codes += await self._stop_children()  # one a keeper started at the last moment
        if self.dev_sink is not None:
            await self.dev_sink.stop()
        shutil.rmtree(self._metrics_dir, ignore_errors=True)
        if self._gave_up:
            raise StartError(self._gave_up)
        log.info("supervisor: stopped")
        return 0 if all(code == 0 for code in codes) else 1


def _slot(child: _Child) -> int:
    return child.slot
