"""Real parts for relay tests: a next-hop sink and the gateway as a process.

The gateway is started the way users start it (the ``gateway serve``
console script, a configuration file) and spoken to over loopback SMTP.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as AioSMTP

from gateway.judge.rules import CATEGORIES

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = Path(sys.executable).parent / "gateway"


def wait_until(what, timeout: float = 15.0, message: str = "") -> None:
    """Poll ``what`` until it is true; an AssertionError after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not what():
        if time.monotonic() > end:
            raise AssertionError(message or "timed out")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    mail_options: list[str]


class _SinkHandler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if "tempfail" in local and not self.sink.accept_all:
            return "450 4.2.1 Mailbox busy, try later"
        if "nosuchuser" in local:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.sink.data_started.extend(envelope.rcpt_tos)
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        with self.sink.lock:
            self.sink.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    list(envelope.mail_options),
                )
            )
        if self.sink.answer_delay:  # stored, then slow to say so
            await asyncio.sleep(self.sink.answer_delay)
        return "250 2.0.0 Ok: stored"


class _SinkSMTP(AioSMTP):
    line_length_limit = 65538  # like Postfix, the sink takes long lines


class _SinkController(Controller):
    def __init__(self, *args, tls_context=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tls = tls_context

    def factory(self):
        if self.tls is not None:  # STARTTLS required: proves the gateway upgraded
            return _SinkSMTP(
                self.handler,
                enable_SMTPUTF8=True,
                hostname="sink.test",
                tls_context=self.tls,
                require_starttls=True,
            )
        return _SinkSMTP(self.handler, enable_SMTPUTF8=True, hostname="sink.test")


@dataclass
class Sink:
    """An aiosmtpd next hop that records what it accepts."""

    port: int = field(default_factory=free_port)
    messages: list[Received] = field(default_factory=list)
    accept_all: bool = False
    delay: float = 0.0  # before storing a message
    answer_delay: float = 0.0  # after storing it, before answering DATA
    tls_context: object = None
    data_started: list[str] = field(default_factory=list)  # recipients of DATA begun, stored or not
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def start(self) -> Sink:
        self._controller = _SinkController(
            _SinkHandler(self), hostname="127.0.0.1", port=self.port, tls_context=self.tls_context
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None

    def to(self, rcpt: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if rcpt in m.rcpt_tos]

    def wait_for_text(self, rcpt: str, needle: bytes, timeout: float = 15.0) -> list[Received]:
        """Messages to ``rcpt`` containing ``needle``, waiting until there is one."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = [m for m in self.to(rcpt) if needle in m.data]
            if got:
                return got
            time.sleep(0.05)
        raise AssertionError(f"no message to {rcpt} containing {needle!r}")

    def wait_for(self, rcpt: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.to(rcpt)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{rcpt} received {len(self.to(rcpt))} messages, expected {count}")


CONFIG_TEMPLATE = """
[school]
name = "Test School"
timezone = "Europe/London"
phone_region = "GB"

[domains]
staff = ["heartofengland.example"]
student = ["students.heartofengland.example"]
partner = ["westmidlandscoaches.example"]
unknown_external = "parent"

[directory]
parents = "{root}/config/parents.csv"
staff = "{root}/config/staff.csv"

[approved]
phones = [{{ number = "0121 496 0000", label = "Switchboard" }}]
platforms = ["Teams"]

[rules]
paths = [{rules}]
categories = {categories}

[scanner]
deadline_seconds = {deadline}

[relay]
listen = "127.0.0.1:{port}"
hostname = "gateway.test"
trusted_networks = {trusted}
sender_domains = {sender_domains}
max_message_bytes = {max_bytes}
max_connections = {max_connections}
data_dir = "{data_dir}"
metrics_listen = "127.0.0.1:{metrics_port}"
scan_workers = 2
min_free_disk_mb = {min_free_disk_mb}
{extra_relay}

[next_hop]
address = "127.0.0.1:{sink_port}"
timeout_seconds = {next_hop_timeout}
{extra_next_hop}

[delivery]
retry_initial_seconds = 0.5
retry_max_seconds = 1
lease_seconds = {lease}

[store]
url = "{store_url}"

[notices]
from = "chaperone@heartofengland.example"
reviewers = ["dsl@heartofengland.example"]
templates = "{root}/config/templates"
"""


REVIEWER_PASSWORD = "a long enough password"


class GatewayProcess:
    """``gateway serve`` in its own process, with a config file written for the test."""

    def __init__(
        self,
        tmp: Path,
        sink: Sink,
        *,
        rules: list[Path] | None = None,
        deadline: float = 10.0,
        trusted: tuple[str, ...] = ("127.0.0.1/32",),
        sender_domains: tuple[str, ...] = (),
        max_bytes: int = 1_000_000,
        max_connections: int = 50,
        store_url: str = "",
        extra_relay: str = "",
        extra_next_hop: str = "",
        lease: float = 0,
        min_free_disk_mb: int = 0,
        next_hop_timeout: float = 10,
        processes: int = 1,
    ) -> None:
        self.tmp = tmp
        self.processes = processes
        self.sink = sink
        self.port = free_port()
        self.metrics_port = free_port()
        self.data_dir = tmp / "data"
        self.config_path = tmp / "gateway.toml"
        self.log_path = tmp / "gateway.log"
        rule_paths = rules or [ROOT / "rules"]
        self.config_path.write_text(
            CONFIG_TEMPLATE.format(
                root=ROOT,
                rules=", ".join(json.dumps(str(p)) for p in rule_paths),
                # A test's own small rule set covers only what it tests.
                categories="[]" if rules else json.dumps(list(CATEGORIES)),
                deadline=deadline,
                port=self.port,
                trusted=json.dumps(list(trusted)),
                sender_domains=json.dumps(list(sender_domains)),
                max_bytes=max_bytes,
                max_connections=max_connections,
                data_dir=self.data_dir,
                metrics_port=self.metrics_port,
                sink_port=sink.port,
                store_url=store_url,
                extra_relay=extra_relay,
                extra_next_hop=extra_next_hop,
                lease=lease,
                next_hop_timeout=next_hop_timeout,
                # Off unless a test asks: a CI machine's free disk space is not the subject.
                min_free_disk_mb=min_free_disk_mb,
            )
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> GatewayProcess:
        log = self.log_path.open("ab")
        several = ["--processes", str(self.processes)] if self.processes > 1 else []
        self.process = subprocess.Popen(
            [str(GATEWAY), "serve", "--config", str(self.config_path), *several],
            stdout=log,
            stderr=log,
            cwd=self.tmp,
        )
        # With several processes, the supervisor's line once every one listens.
        ready = '"msg": "all processes listening"' if several else '"msg": "listening"'
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"gateway exited with {self.process.returncode}:\n{self.log()}"
                )
            if ready in self.log():
                return self
            time.sleep(0.05)
        raise AssertionError(f"gateway did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict]:
        # A line still being written has no newline yet: read only finished lines.
        finished = self.log().split("\n")[:-1]
        return [json.loads(line) for line in finished if line.startswith("{")]

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(GATEWAY), *args, "--config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
        )

    def decide(self, *args: str, as_user: str = "dsl") -> subprocess.CompletedProcess:
        """``gateway quarantine ARGS --as USER``, proven by the account's password."""
        return self.cli(
            "quarantine", *args, "--as", as_user, env={"CHAPERONE_PASSWORD": REVIEWER_PASSWORD}
        )

    def add_reviewer(
        self, name: str = "dsl", email: str = "dsl@heartofengland.example", *extra: str
    ) -> None:
        """A reviewer account in this gateway's store, as ``gateway user add`` makes it."""
        done = subprocess.run(
            [str(GATEWAY), "user", "add", name, "--role", "reviewer", "--email", email, *extra]
            + ["--config", str(self.config_path)],
            input=REVIEWER_PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    def copies(self, status: str | None = None) -> list[dict]:
        args = ["quarantine", "list", "--json"] + (["--status", status] if status else [])
        done = self.cli(*args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def smtp(self, source: str | None = None) -> smtplib.SMTP:
        client = smtplib.SMTP(
            "127.0.0.1", self.port, timeout=30, source_address=(source, 0) if source else None
        )
        client.ehlo("upstream.test")
        return client


class WebProcess:
    """``gateway web`` in its own process, on the same configuration and store as a GatewayProcess."""

    def __init__(self, gateway: GatewayProcess) -> None:
        self.gateway = gateway
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = gateway.tmp / "web.log"

    def start(self, timeout: float = 20.0) -> WebProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(GATEWAY),
                "web",
                "--config",
                str(self.gateway.config_path),
                "--listen",
                f"127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=log,
        )
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise AssertionError(f"gateway web exited:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("gateway web did not start")

    def add_user(self, name: str, role: str, password: str, email: str = "") -> None:
        done = subprocess.run(
            [
                str(GATEWAY),
                "user",
                "add",
                name,
                "--role",
                role,
                "--email",
                email,
                "--config",
                str(self.gateway.config_path),
            ],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


class PostgresMissing(Exception):
    """The machine has no PostgreSQL binaries."""


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own, from the machine's binaries, on a free port.

    Not under pytest's tmp dir: as root that is private to root, and the server
    runs as the postgres user (PostgreSQL refuses to run as root).
    """

    def __init__(self) -> None:
        found = shutil.which("initdb")
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if found:
            self.bindir: Path = Path(found).resolve().parent
        elif candidates:
            self.bindir = candidates[-1].parent
        else:
            raise PostgresMissing("PostgreSQL binaries (initdb) not found")
        self.base = Path(tempfile.mkdtemp(prefix="chaperone-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.base, "postgres")
        self.data = self.base / "data"
        self.port = free_port()
        self.url = f"postgresql://chaperone@127.0.0.1:{self.port}/postgres"

    def start(self) -> ThrowawayPostgres:
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust"]
        initdb += ["-U", "chaperone", "--no-sync", "-E", "UTF8"]
        done = subprocess.run([*self.as_user, *initdb], capture_output=True, text=True)
        if done.returncode:
            raise AssertionError(f"initdb failed: {done.stderr}")
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w"]
            + ["-l", str(self.base / "log"), "-o", options, "start"],
            check=True,
            capture_output=True,
        )
        return self

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data)]
            + ["-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.base, ignore_errors=True)

    def new_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name
