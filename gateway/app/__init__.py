"""The SMTP edge: aiosmtpd in, policy per recipient copy, aiosmtplib out or the store.

A transaction ends in ``250`` only when every recipient copy is either
accepted by the next hop or committed (fsynced) to the store as held,
queued or failed-with-a-notice. Anything else answers a 4xx and the client
keeps the message. The order matters: held copies are committed *before*
clean copies are forwarded, so a forwarding failure can answer 4xx without
losing a hold, and the client's retry finds the hold already there (holds
are idempotent per message and recipient).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.parser
import email.policy
import functools
import hashlib
import ipaddress
import json
import logging
import shutil
import signal
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import argon2
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, Session
from aiosmtpd.smtp import Envelope as SMTPEnvelope
from email_validator import EmailNotValidError, validate_email

from gateway.config import Config, load_config, with_exceptions
from gateway.read.message import decode_header
from gateway.app.metrics import Metrics
from gateway.review.notices import held_notices
from gateway.deliver.outbox import Outbox
from gateway.judge.rules import RuleError
from gateway.judge.scan import SCANNED_CLASSES, ScanResult, ScanWorkers
from gateway.deliver.dsn import received_header
from gateway.deliver.next_hop import Delivery, NextHop
from gateway.receive.session import GatewaySMTP
from gateway.store import Envelope, NewCopy, Store, StoredFinding, StoreError, new_queue_id, now_utc

log = logging.getLogger("chaperone")

TEMPFAIL = "451 4.3.0 Temporary local problem, please try again later"


def _header_fields(raw: bytes) -> tuple[str, str]:
    """Subject and Message-ID, for the store's listing (the scan reads the whole message)."""
    end = raw.find(b"\r\n\r\n")
    head = raw[: end if end >= 0 else 65536][:65536]
    msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    return decode_header(msg.get("Subject")), str(msg.get("Message-ID", "")).strip()


@functools.lru_cache(maxsize=4096)
def _trusted(peer: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


class _TooBusy(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"421 4.7.0 Too many connections, please try again later\r\n")
        transport.close()


class RelayHandler:
    """aiosmtpd hooks: decide through the gateway, answer a status line."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default answer is a permanent 500 carrying the error
        # text: that bounces mail and leaks internals.
        log.error("smtp session error", exc_info=error)
        return TEMPFAIL

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: SMTPEnvelope, address: str,
                          mail_options: list[str]) -> str:
        g = self.gateway
        if g.draining:
            return "421 4.3.2 Service shutting down, please try again later"
        if not g.authorised(session):
            if g.settings.auth_users:
                return "530 5.7.0 Authentication required"
            return "550 5.7.1 Relay access denied: this gateway only relays for the school's mail servers"
        problem = g.storage_problem()
        if problem:
            return problem
        utf8 = "SMTPUTF8" in (o.upper() for o in mail_options)
        if address != "<>":
            problem = g.address_problem(address, utf8)
            if problem:
                return problem
            domains = g.settings.sender_domains
            domain = address.rpartition("@")[2].lower()
            if domains and not any(domain == d or domain.endswith("." + d) for d in domains):
                return "550 5.7.1 Sender address rejected: not one of the school's domains"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: SMTPEnvelope, address: str,
                          rcpt_options: list[str]) -> str:
        g = self.gateway
        if g.draining:
            return "421 4.3.2 Service shutting down, please try again later"
        if len(envelope.rcpt_tos) >= g.settings.max_recipients:
            return "452 4.5.3 Too many recipients in one message; send the rest in another"
        utf8 = "SMTPUTF8" in (o.upper() for o in envelope.mail_options)
        problem = g.address_problem(address, utf8)
        if problem:
            return problem
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SMTPEnvelope) -> str:
        raw = envelope.original_content or b""
        if b"\x00" in raw:
            return "550 5.6.0 Message contains NUL characters; not accepted"
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        env = Envelope("" if envelope.mail_from == "<>" else envelope.mail_from, tuple(envelope.rcpt_tos),
                       tuple(envelope.mail_options), peer, session.host_name or "")
        # Shielded: a client timeout or disconnect cancels this hook, but a
        # commit or a forward under way must finish (or never start).
        task = asyncio.ensure_future(self.gateway.process(env, raw))
        self.gateway.inflight.add(task)
        task.add_done_callback(self.gateway.inflight.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Answered here rather than in handle_exception, so aiosmtpd resets
            # the transaction and the client can go on with the next one.
            log.exception("error while processing a message", extra={"json": {"client": peer}})
            return TEMPFAIL


class Gateway:
    """One running relay: listener, scan workers, next hop, store, outbox, reload."""

    def __init__(self, config: Config, store: Store, *, metrics: Metrics | None = None) -> None:
        # Approved details that reviewers added from the review screen live in the store.
        config = with_exceptions(config, store.exceptions())
        self._exceptions_version = store.exceptions_version()
        self.config = config
        self.settings = config.relay
        self.store = store
        self.metrics = metrics or Metrics()
        self.workers = ScanWorkers(config, self.settings.scan_workers)
        s = self.settings
        self.next_hop = NextHop(s.next_hop, local_hostname=s.hostname, starttls=s.next_hop_starttls,
                                ca_file=str(s.next_hop_ca_file) if s.next_hop_ca_file else None,
                                timeout=s.next_hop_timeout_seconds, max_connections=s.next_hop_connections)
        self.inflight: set[asyncio.Task] = set()
        self.draining = False
        self.connections = 0
        self._db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chaperone-store")
        self._server: asyncio.AbstractServer | None = None
        self._outbox_wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._background: list[asyncio.Task] = []
        self._mtimes = self._source_mtimes(config)
        self.outbox = Outbox(lambda: self.config, store, self.next_hop, run=self._db,
                             on_attempt=lambda outcome: self.metrics.delivery_attempts.labels(outcome).inc())
        self._hasher = argon2.PasswordHasher()
        self._auth_ok: set[tuple[str, str]] = set()
        self._disk_checked = -1e9
        self._disk_low = False

    # -- access and addresses ----------------------------------------------
    def authorised(self, session: Session) -> bool:
        if session.authenticated:
            return True
        peer = session.peer[0] if isinstance(session.peer, tuple) else None
        return peer is not None and _trusted(peer, self.settings.trusted_networks)

    def _authenticate(self, server: SMTP, session: Session, envelope: SMTPEnvelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        """SMTP AUTH PLAIN/LOGIN against argon2 hashes (aiosmtpd offers it only after STARTTLS)."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        hashed = dict(self.settings.auth_users).get(user)
        key = (user, hashlib.sha256(auth_data.password).hexdigest())
        ok = False
        if hashed is not None:
            if key in self._auth_ok:
                ok = True
            else:
                try:
                    ok = self._hasher.verify(hashed, auth_data.password)
                except argon2.exceptions.VerificationError:
                    ok = False
                except argon2.exceptions.InvalidHashError:
                    log.error("SMTP user has an invalid password hash", extra={"json": {"user": user}})
                if ok:
                    self._auth_ok.add(key)  # a mail server logs in on every connection
        log.info("smtp auth", extra={"json": {"user": user, "ok": ok, "client": str(session.peer)}})
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    @staticmethod
    @functools.lru_cache(maxsize=65536)  # the same few thousand addresses all day; validation costs 0.2 ms
    def address_problem(address: str, smtputf8: bool) -> str | None:
        """Why an envelope address is refused, as an SMTP reply; None if it is fine."""
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in address):
            return "553 5.1.3 Control characters are not allowed in addresses"
        if not address.isascii() and not smtputf8:
            return "553 5.6.7 Non-ASCII address without the SMTPUTF8 parameter"
        local, at, domain = address.rpartition("@")
        if not at or not local:
            return "553 5.1.3 A full address (user@domain) is required"
        if '"' in local:
            return "553 5.1.3 Quoted local parts are not accepted"
        if "%" in local or "!" in local:
            return "553 5.7.1 Relaying through %- or !-addresses is not allowed"
        if domain.startswith("["):
            return "553 5.7.1 Address literals are not accepted"
        try:
            validate_email(address, check_deliverability=False, allow_smtputf8=smtputf8, allow_quoted_local=False,
                           allow_domain_literal=False, globally_deliverable=False)
        except EmailNotValidError:
            return "553 5.1.3 Bad address syntax"
        return None

    def storage_problem(self) -> str | None:
        """A 452 while the embedded store's disk is below the free-space floor (checked every 2 s)."""
        floor = self.settings.min_free_disk_mb
        path = self.store.path
        if not floor or path is None:  # off, or the store is PostgreSQL's business
            return None
        now = time.monotonic()
        if now - self._disk_checked >= 2.0:
            self._disk_checked = now
            try:
                free = shutil.disk_usage(path.parent).free
            except OSError:
                free = None  # cannot tell: a failed commit still answers 451
            low = free is not None and free < floor * 1024 * 1024
            if low != self._disk_low:
                (log.error if low else log.info)(
                    "free disk space below the floor: refusing new mail with 452" if low else
                    "free disk space above the floor again: accepting mail",
                    extra={"json": {"path": str(path.parent), "free_mb": (free or 0) // (1024 * 1024),
                                    "floor_mb": floor}})
            self._disk_low = low
        return "452 4.3.1 Insufficient system storage, please try again later" if self._disk_low else None

    # -- one message -----------------------------------------------------------
    async def _db(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._db_pool, partial(fn, *args, **kwargs))

    async def process(self, env: Envelope, raw: bytes) -> str:
        started = time.perf_counter()
        queue_id = new_queue_id()
        directory = self.config.directory
        classes = {r: directory.classify(r) for r in env.rcpt_tos}
        result: ScanResult | None = None
        scan_seconds = 0.0
        if any(c in SCANNED_CLASSES for c in classes.values()):
            t = time.perf_counter()
            result = await self.workers.scan(raw, env.mail_from or None, list(env.rcpt_tos), now_utc())
            scan_seconds = time.perf_counter() - t
            self.metrics.scan_seconds.observe(scan_seconds)
            if result.error:
                self.metrics.scan_errors.inc()
        verdicts = dict(result.recipients) if result else dict.fromkeys(env.rcpt_tos, "pass")
        held = [r for r in env.rcpt_tos if verdicts.get(r) in ("quarantine", "reject")]
        forward = [r for r in env.rcpt_tos if r not in held]
        record: dict[str, Any] = {"event": "message", "queue_id": queue_id, "sender": env.mail_from or "<>",
                                  "client": env.client_address, "size": len(raw), "recipients": []}

        def finish(reply: str, outcome: str, copies: dict[str, str], next_hop: str = "") -> str:
            total = time.perf_counter() - started
            self.metrics.transaction_seconds.observe(total)
            self.metrics.messages.labels(outcome).inc()
            for r, verdict in copies.items():
                self.metrics.copies.labels(verdict, classes[r]).inc()
            record["recipients"] = [
                {"class": classes[r], "verdict": copies.get(r, "none"),
                 "rules": sorted({f.rule for f in (result.findings if result else ()) if r in f.copies})}
                for r in env.rcpt_tos]
            record.update(queue_id=queue_id, outcome=outcome, reply=reply.split(" ", 1)[0],
                          scan_ms=round(scan_seconds * 1000, 1), total_ms=round(total * 1000, 1), next_hop=next_hop)
            if result and result.error:
                record["scan_error"] = result.error
            log.info("message", extra={"json": record})
            return reply

        if result:
            for f in result.findings:
                if f.copies:
                    self.metrics.rule_hits.labels(f.rule, f.category).inc()
        subject = message_id = ""
        if held:
            subject, message_id = _header_fields(raw)
            reason = (f"held unscanned: {result.error}" if result and result.error else
                      "rules: " + ", ".join(sorted({f.rule for f in result.findings if set(f.copies) & set(held)}))
                      if result else "policy")
            copies = [NewCopy(r, classes[r], "held", reason, tuple(
                StoredFinding(f.rule, f.category, f.action, f.evidence, f.part, f.zone, f.quoted, f.note, f.context,
                              f.value)
                for f in (result.findings if result else ()) if r in f.copies)) for r in held]
            notices = held_notices(self.config, sender=env.mail_from, subject=subject, queue_id=queue_id,
                                   held={r: [f for f in (result.findings if result else ()) if r in f.copies]
                                         for r in held},
                                   scan_error=result.error if result else None, at=now_utc())
            try:
                accepted = await self._db(self.store.accept, env, raw, copies, subject=subject,
                                          header_message_id=message_id,
                                          scan_error=result.error if result else None, queue_id=queue_id,
                                          notices=notices)
            except StoreError as exc:
                log.error("store unavailable; answering 4xx", extra={"json": {"queue_id": queue_id, "error": str(exc)}})
                return finish("451 4.3.0 Cannot store the message now, please try again later", "deferred", {})
            queue_id = accepted.message_id
            if accepted.new and notices:
                self._outbox_wake.set()
        outcome = dict.fromkeys(held, "held")
        if not forward:
            return finish(f"250 2.0.0 Ok: queued as {queue_id}", "accepted", outcome)

        data = received_header(env.client_helo, env.client_address, self.settings.hostname, queue_id, now_utc()) + raw
        delivery = await self.next_hop.send(env.mail_from, forward, data, env.mail_options)
        for r in delivery.accepted:
            outcome[r] = "forwarded"
        if not delivery.accepted and not delivery.permanent:
            # Nothing went through and the next hop may take it later: the
            # client keeps the message and retries; held copies are already
            # stored and will not be stored twice.
            return finish("451 4.4.1 Next hop unavailable, please try again later", "deferred", outcome, delivery.reply)
        if not delivery.accepted and not delivery.temporary and not held:
            # Refused outright for every recipient: let the client's own
            # server bounce it, with the next hop's reason.
            first = next(iter(delivery.permanent.values()))
            code = first[:3] if first[:3].isdigit() and first[0] == "5" else "550"
            return finish(f"{code} 5.0.0 Refused by the next hop: {first[4:200]}", "refused",
                          dict.fromkeys(forward, "refused"), delivery.reply)
        # Some copies went through: the rest must become our responsibility now.
        later = await self._take_over(env, raw, queue_id, classes, delivery, subject, message_id)
        if later is None:
            return finish("451 4.3.0 Cannot store the message now, please try again later", "deferred",
                          outcome, delivery.reply)
        outcome.update(later)
        return finish(f"250 2.0.0 Ok: queued as {queue_id}", "accepted", outcome, delivery.reply)

    async def _take_over(self, env: Envelope, raw: bytes, queue_id: str, classes: dict[str, str], delivery: Delivery,
                         subject: str, message_id: str) -> dict[str, str] | None:
        """Queue temporarily refused copies; record permanent refusals and notify the sender."""
        if not delivery.temporary and not delivery.permanent:
            return {}
        if not subject and not message_id:
            subject, message_id = _header_fields(raw)
        copies = [NewCopy(r, classes[r], "queued", "next hop deferred", last_reply=reply)
                  for r, reply in delivery.temporary.items()]
        copies += [NewCopy(r, classes[r], "failed", "refused by the next hop", last_reply=reply)
                   for r, reply in delivery.permanent.items()]
        try:
            await self._db(self.store.accept, env, raw, copies, subject=subject, header_message_id=message_id,
                           queue_id=queue_id)
            if delivery.permanent:
                await self._notify_failure(env.mail_from, queue_id, delivery.permanent, raw)
        except StoreError as exc:
            log.error("store unavailable after a partial delivery",
                      extra={"json": {"queue_id": queue_id, "error": str(exc)}})
            return None
        if delivery.temporary:
            self._outbox_wake.set()
        return {**dict.fromkeys(delivery.temporary, "queued"), **dict.fromkeys(delivery.permanent, "failed")}

    async def _notify_failure(self, sender: str, queue_id: str, failed: dict[str, str], raw: bytes) -> None:
        await self.outbox.notify_failure(sender, queue_id, failed, raw)
        self._outbox_wake.set()

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

    # -- reload --------------------------------------------------------------
    @staticmethod
    def _source_mtimes(config: Config) -> dict[Path, float]:
        out = {}
        for path in config.sources:
            try:
                out[path] = path.stat().st_mtime_ns
            except OSError:
                out[path] = -1
        return out

    async def reload(self, why: str) -> bool:
        """Load rules and configuration again; on any error keep the last good set."""
        try:
            config = await asyncio.to_thread(load_config, self.config.path)
            version = await self._db(self.store.exceptions_version)
            config = with_exceptions(config, await self._db(self.store.exceptions))
        except (RuleError, StoreError) as exc:
            self.metrics.reloads.labels("failed").inc()
            log.error("reload failed; keeping the last good rules", extra={"json": {"error": str(exc), "trigger": why}})
            return False
        # Listener, next hop and store were fixed at start (and may come from the command line).
        config = dataclasses.replace(config, relay=self.settings)
        self._exceptions_version = version
        self.config = config
        self.workers.replace(config)
        self._mtimes = self._source_mtimes(config)
        self.metrics.reloads.labels("ok").inc()
        log.info("reloaded", extra={"json": {"trigger": why, "rules": len(config.rules.rules),
                                             "files": len(config.sources)}})
        return True

    async def watch_files(self, interval: float = 1.0) -> None:
        while not self._stopped.is_set():
            await asyncio.sleep(interval)
            current = self._source_mtimes(self.config)
            # A broken file is remembered by its mtime so it is reported once.
            if current != self._mtimes:
                changed = [str(p) for p in current if current[p] != self._mtimes.get(p)]
                self._mtimes = current
                await self.reload("file changed: " + ", ".join(changed))
                continue
            try:
                version = await self._db(self.store.exceptions_version)
            except StoreError:
                continue
            if version != self._exceptions_version:
                await self.reload("a reviewer added an approved exception")

    # -- lifecycle -------------------------------------------------------------
    def connection_closed(self) -> None:
        self.connections -= 1
        self.metrics.connections.set(self.connections)

    def _protocol(self) -> asyncio.BaseProtocol:
        if self.draining or self.connections >= self.settings.max_connections:
            return _TooBusy()
        self.connections += 1
        self.metrics.connections.set(self.connections)
        s = self.settings
        auth = ({"authenticator": self._authenticate, "auth_require_tls": True} if s.auth_users
                else {"auth_exclude_mechanism": ["LOGIN", "PLAIN"]})  # nothing to offer
        return GatewaySMTP(RelayHandler(self), data_size_limit=s.max_message_bytes, enable_SMTPUTF8=True,
                           hostname=s.hostname, ident="Chaperone", tls_context=self._tls_context(),
                           require_starttls=s.require_tls, timeout=s.timeout_seconds, **auth,
                           command_call_limit={"*": 10000, "NOOP": 50, "EHLO": 10, "HELO": 10, "VRFY": 3,
                                               "EXPN": 3, "AUTH": 3})

    def _tls_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if not s.tls_certificate:
            return None
        if not hasattr(self, "_tls"):
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(s.tls_certificate, s.tls_key)
            self._tls = ctx
        return self._tls

    async def start(self, listen_host: str, listen_port: int) -> None:
        loop = asyncio.get_running_loop()
        self._tls_context()  # a bad certificate stops the start, not the first STARTTLS
        self._server = await loop.create_server(self._protocol, listen_host, listen_port, reuse_address=True)
        self._background = [asyncio.ensure_future(self.run_outbox()), asyncio.ensure_future(self.watch_files())]

    async def stop(self, grace: float = 60.0) -> None:
        """Stop taking connections, let transactions under way finish, then close."""
        self.draining = True
        if self._server is not None:
            self._server.close()
        if self.inflight:
            await asyncio.wait(set(self.inflight), timeout=grace)
        self._stopped.set()
        self._outbox_wake.set()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.next_hop.close()
        self.workers.close()
        self._db_pool.shutdown(wait=True)
        self.store.close()


class JsonLines(logging.Formatter):
    """One JSON object per line; message records carry their fields in ``extra={'json': ...}``."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname.lower(),
               "msg": record.getMessage()}
        out.update(getattr(record, "json", {}))
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, ensure_ascii=False)


async def serve(config: Config, store: Store, *, listen: tuple[str, int], ready: Callable[[], None] | None = None,
                dev_sink: Any = None) -> None:
    """Run until SIGTERM or SIGINT; SIGHUP reloads rules and configuration."""
    metrics = Metrics()
    gateway = Gateway(config, store, metrics=metrics)
    if config.relay.metrics_listen:
        metrics.serve(config.relay.metrics_listen)
    if dev_sink is not None:
        await dev_sink.start()
    await gateway.start(*listen)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(gateway.reload("SIGHUP")))
    log.info("listening", extra={"json": {"listen": f"{listen[0]}:{listen[1]}", "next_hop": str(config.relay.next_hop),
                                          "store": store.dialect, "rules": len(config.rules.rules),
                                          "metrics": str(config.relay.metrics_listen or "")}})
    if ready:
        ready()
    await stop.wait()
    log.info("stopping: finishing transactions under way", extra={"json": {"inflight": len(gateway.inflight)}})
    await gateway.stop()
    if dev_sink is not None:
        await dev_sink.stop()
    log.info("stopped")
