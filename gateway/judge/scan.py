"""Bytes + envelope + moment -> ScanResult, failing closed.

``Scanner.scan`` never raises and never passes a copy it could not scan:
an unreadable message, a detector error or a pattern that ran past its bound
holds every copy addressed to a parent or student, with the reason.
``ScanPool`` runs scans in worker processes under a wall-clock deadline, so a
pathological message cannot stall the caller; a worker past the deadline is
killed and the copy is held.
"""

from __future__ import annotations

import asyncio
import email.utils
import multiprocessing
import pickle
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.config import Config
from gateway.read.message import ReadLimits, UnreadableMessage, read_message
from gateway.judge.policy import _RANK, Finding, PatternTimeout, PolicyEngine

SCANNED_CLASSES = ("parent", "student")


@dataclass(frozen=True, slots=True)
class ScanResult:
    verdict: str
    recipients: dict[str, str]
    classes: dict[str, str]
    findings: tuple[Finding, ...]
    error: str | None = None
    notes: tuple[str, ...] = field(default=())
    at: datetime | None = None

    def __reduce__(self):
        # Results cross from scan workers as pickles; the constructor with its
        # arguments unpickles several times faster than slots dataclass state.
        return ScanResult, (self.verdict, self.recipients, self.classes, self.findings, self.error, self.notes, self.at)

    def as_json(self, file: str | None = None) -> dict:
        out: dict = {}
        if file is not None:
            out["file"] = file
        out["verdict"] = self.verdict
        out["recipients"] = dict(self.recipients)
        out["findings"] = [f.as_json() for f in self.findings]
        if self.error:
            out["error"] = self.error
        return out


def _envelope_from_headers(raw: bytes) -> tuple[str, list[str]]:
    msg = email.message_from_bytes(raw[:256 * 1024].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0] + b"\n\n")
    sender = email.utils.parseaddr(str(msg.get("From", "")))[1].lower()
    rcpts = [a.lower() for _, a in email.utils.getaddresses([str(v) for h in ("To", "Cc", "Bcc") for v in msg.get_all(h) or []]) if "@" in a]
    return sender, list(dict.fromkeys(rcpts))


class Scanner:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.engine = PolicyEngine(config)
        self.limits = ReadLimits(max_depth=config.limits.max_mime_depth, max_parts=config.limits.max_parts)

    def held(self, reason: str, mail_from: str | None, rcpts: list[str] | None, at: datetime | None = None) -> ScanResult:
        classes = {r: self.config.directory.classify(r) for r in rcpts or []}
        recipients = {r: ("quarantine" if c in SCANNED_CLASSES else "pass") for r, c in classes.items()}
        verdict = "quarantine" if not recipients or "quarantine" in recipients.values() else "pass"
        return ScanResult(verdict, recipients, classes, (), error=reason, at=at)

    @staticmethod
    def _envelope(raw: bytes, mail_from: str | None, rcpts: list[str] | None) -> tuple[str | None, list[str] | None]:
        """The envelope for a message that could not be read: from its headers if possible."""
        if mail_from is not None and rcpts:
            return mail_from, rcpts
        try:
            h_from, h_rcpts = _envelope_from_headers(raw)
        except Exception:  # noqa: BLE001 - no envelope at all: every copy is held
            return mail_from, rcpts
        return (mail_from if mail_from is not None else h_from), (rcpts or h_rcpts)

    def scan(self, raw: bytes, mail_from: str | None = None, rcpts: list[str] | None = None, at: datetime | None = None) -> ScanResult:
        try:
            view = read_message(raw, self.config.directory.is_colleague, self.limits)
        except UnreadableMessage as exc:
            return self.held(f"unreadable message: {exc}", *self._envelope(raw, mail_from, rcpts), at)
        except Exception as exc:  # noqa: BLE001 - fail closed on any parser failure
            return self.held(f"message could not be parsed ({type(exc).__name__})", *self._envelope(raw, mail_from, rcpts), at)
        if mail_from is None:
            mail_from = view.sender.address
        if not rcpts:
            rcpts = list(view.recipients)
        if at is None:
            at = view.date or datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.config.timezone)
        if not rcpts:
            return self.held("message has no recipients", mail_from, rcpts, at)
        try:
            recipients, classes, findings = self.engine.judge(view, mail_from or "", rcpts, at, self.config.limits.pattern_timeout_seconds)
        except PatternTimeout as exc:
            return self.held(f"rule {exc.args[0]} ran past its time bound", mail_from, rcpts, at)
        except Exception as exc:  # noqa: BLE001 - a detector bug holds the copy, never passes it
            return self.held(f"scanner error ({type(exc).__name__})", mail_from, rcpts, at)
        verdict = max(recipients.values(), key=lambda v: _RANK[v]) if recipients else "quarantine"
        return ScanResult(verdict, recipients, classes, tuple(findings), notes=view.notes, at=at)


_WORKER: Scanner | None = None


def _scan_in_worker(raw: bytes, mail_from: str | None, rcpts: list[str] | None, at: datetime | None) -> ScanResult:
    assert _WORKER is not None
    return _WORKER.scan(raw, mail_from, rcpts, at)


class ScanPool:
    """Scans in worker processes under a wall-clock deadline (fork start method)."""

    def __init__(self, scanner: Scanner, workers: int = 1) -> None:
        self.scanner = scanner
        self.workers = workers
        self._pool = self._start()

    def _start(self):
        global _WORKER
        _WORKER = self.scanner
        return multiprocessing.get_context("fork").Pool(self.workers)

    def scan(self, raw: bytes, mail_from: str | None = None, rcpts: list[str] | None = None, at: datetime | None = None) -> ScanResult:
        deadline = self.scanner.config.limits.deadline_seconds
        job = self._pool.apply_async(_scan_in_worker, (raw, mail_from, rcpts, at))
        try:
            return job.get(timeout=deadline)
        except multiprocessing.TimeoutError:
            reason = f"scan did not finish within {deadline:g} s"
        except Exception as exc:  # noqa: BLE001 - a dead worker holds the copy
            reason = f"scanner worker failed ({type(exc).__name__})"
        self._pool.terminate()
        self._pool = self._start()
        return self.scanner.held(reason, *self.scanner._envelope(raw, mail_from, rcpts), at)

    def close(self) -> None:
        self._pool.terminate()


def _serve_scans(conn, config_bytes: bytes) -> None:
    """A scan worker: read (raw, mail_from, rcpts, at) jobs, answer ScanResults."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    scanner = Scanner(pickle.loads(config_bytes))
    while True:
        try:
            job = conn.recv_bytes()
        except (EOFError, OSError):
            return
        result = scanner.scan(*pickle.loads(job))
        conn.send_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


class _Worker:
    def __init__(self, ctx, config_bytes: bytes, generation: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_serve_scans, args=(child, config_bytes), daemon=True, name="chaperone-scan")
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

    def __init__(self, config: Config, size: int) -> None:
        self.size = size
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["gateway.judge.scan"])
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
        worker = _Worker(self._ctx, self._config_bytes, self._generation)
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
        if len(job) > 60_000:  # more than a pipe buffer: don't block the loop while the worker reads
            await loop.run_in_executor(None, worker.conn.send_bytes, job)
        else:
            worker.conn.send_bytes(job)
        ready = loop.create_future()
        fd = worker.conn.fileno()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return pickle.loads(worker.conn.recv_bytes())

    async def scan(self, raw: bytes, mail_from: str | None, rcpts: list[str], at: datetime | None = None) -> ScanResult:
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
        return scanner.held(reason, mail_from, rcpts, at)

    def _spawn_if_current(self, worker: _Worker) -> None:
        if worker.generation == self._generation:
            self._spawn()

    def close(self) -> None:
        for worker in list(self._all):
            self._retire(worker)
