"""The one scan pool: worker processes that scan under a wall-clock deadline.

The relay (``gateway serve``), ``gateway check``, ``gateway eval`` and the
benchmarks all scan here, so what the CLI proves about failing closed is
what production does. A scan never runs on the caller's event loop, so a
large or pathological message cannot stall other SMTP sessions; a worker
past the deadline (or one that died) is killed and replaced, and that copy
is held with the reason. Workers start from a fork server, so they never
inherit the gateway's threads or sockets.

``ScanWorkers`` is the asynchronous pool; ``ScanPool`` drives it from
synchronous code (the CLI), results in the order asked.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateway.judge.scan import Scanner, ScanResult

if TYPE_CHECKING:
    from gateway.config import Config


def _serve_scans(conn, config_bytes: bytes, setup: Callable[[], None] | None) -> None:
    """A scan worker: read (raw, mail_from, rcpts, at) jobs, answer ScanResults."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if setup is not None:  # a fresh process: its logging is not the parent's
        setup()
    scanner = Scanner(pickle.loads(config_bytes))
    while True:
        try:
            job = conn.recv_bytes()
        except (EOFError, OSError):
            return
        result = scanner.scan(*pickle.loads(job))
        conn.send_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


class _Worker:
    def __init__(
        self, ctx, config_bytes: bytes, generation: int, setup: Callable[[], None] | None
    ) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(
            target=_serve_scans,
            args=(child, config_bytes, setup),
            daemon=True,
            name="chaperone-scan",
        )
        self.process.start()
        child.close()
        self.generation = generation

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(timeout=1)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.conn.close()


class ScanWorkers:
    """Scans for the event loop: worker processes, one job each, under a deadline.

    A scan never runs on the event loop, so a large or pathological message
    cannot stall other SMTP sessions. A worker past the deadline (or one that
    died) is killed and replaced, and that copy is held with the reason; the
    other workers' scans are untouched. Workers are started from a fork
    server, so they never inherit the gateway's threads or sockets.
    """

    def __init__(
        self, config: Config, size: int, *, setup: Callable[[], None] | None = None
    ) -> None:
        """``setup`` runs first in each worker (a module-level function: it is pickled)."""
        self.size = max(1, size)
        self._setup = setup
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["gateway.judge.pool"])
        self._generation = 0
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self.replace(config)

    def replace(self, config: Config) -> None:
        """Use this configuration for every scan from now on (scans under way finish on the old one)."""
        self.scanner = Scanner(config)
        self._config_bytes = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
        self._generation += 1
        while not self._idle.empty():
            self._retire(self._idle.get_nowait())
        for _ in range(self.size):
            self._spawn()

    def _spawn(self) -> None:
        worker = _Worker(self._ctx, self._config_bytes, self._generation, self._setup)
        self._all.add(worker)
        self._idle.put_nowait(worker)

    def _retire(self, worker: _Worker) -> None:
        self._all.discard(worker)
        worker.kill()

    def _give_back(self, worker: _Worker) -> None:
        if worker.generation == self._generation:
            self._idle.put_nowait(worker)
        else:
            self._retire(worker)

    async def _run(self, worker: _Worker, job: bytes) -> ScanResult:
        loop = asyncio.get_running_loop()
        if (
            len(job) > 60_000
        ):  # more than a pipe buffer: don't block the loop while the worker reads
            await loop.run_in_executor(None, worker.conn.send_bytes, job)
        else:
            worker.conn.send_bytes(job)
        ready = loop.create_future()
        fd = worker.conn.fileno()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return pickle.loads(worker.conn.recv_bytes())

    async def scan(
        self,
        raw: bytes,
        mail_from: str | None = None,
        rcpts: list[str] | None = None,
        at: datetime | None = None,
    ) -> ScanResult:
        deadline = self.scanner.config.limits.deadline_seconds
        worker = await self._idle.get()
        scanner = self.scanner
        job = pickle.dumps((raw, mail_from, rcpts, at), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            async with asyncio.timeout(deadline):  # no extra task per scan, unlike wait_for
                result = await self._run(worker, job)
        except TimeoutError:
            reason = f"scan did not finish within {deadline:g} s"
        except asyncio.CancelledError:
            self._retire(worker)
            self._spawn_if_current(worker)
            raise
        except Exception as exc:  # noqa: BLE001 - a dead worker holds the copy, never passes it
            reason = f"scanner worker failed ({type(exc).__name__})"
        else:
            self._give_back(worker)
            return result
        self._retire(worker)
        self._spawn_if_current(worker)
        return scanner.held(reason, *scanner.envelope_of(raw, mail_from, rcpts), at)

    def _spawn_if_current(self, worker: _Worker) -> None:
        if worker.generation == self._generation:
            self._spawn()

    def close(self) -> None:
        for worker in list(self._all):
            self._retire(worker)


@dataclass(frozen=True, slots=True)
class ScanJob:
    raw: bytes
    mail_from: str | None = None
    rcpts: list[str] | None = None
    at: datetime | None = None


class ScanPool:
    """ScanWorkers for synchronous callers: ``scan`` one message, or ``scan_many`` in order."""

    def __init__(self, config: Config, workers: int = 1) -> None:
        self._loop = asyncio.new_event_loop()
        self.workers = self._loop.run_until_complete(self._start(config, workers))

    @staticmethod
    async def _start(config: Config, workers: int) -> ScanWorkers:
        return ScanWorkers(config, workers)

    @property
    def scanner(self) -> Scanner:
        return self.workers.scanner

    def scan(
        self,
        raw: bytes,
        mail_from: str | None = None,
        rcpts: list[str] | None = None,
        at: datetime | None = None,
    ) -> ScanResult:
        return self._loop.run_until_complete(self.workers.scan(raw, mail_from, rcpts, at))

    def scan_many(self, jobs: Iterable[ScanJob]) -> Iterator[ScanResult]:
        """Every job's result, in order, with as many scans under way as there are workers."""
        pending: list[asyncio.Task[ScanResult]] = []
        for job in jobs:
            pending.append(
                self._loop.create_task(self.workers.scan(job.raw, job.mail_from, job.rcpts, job.at))
            )
            if len(pending) > self.workers.size:
                yield self._loop.run_until_complete(pending.pop(0))
        while pending:
            yield self._loop.run_until_complete(pending.pop(0))

    def close(self) -> None:
        self.workers.close()
        self._loop.close()

    def __enter__(self) -> ScanPool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
