"""aiosmtpd hooks: check the envelope, hand the message inward, answer a status line.

Like aiosmtpd's own handlers, this knows nothing of scanning, storing or
forwarding: ``handle_DATA`` gives the envelope and the exact bytes to the
``process`` callable the application supplies and answers what it returns.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SMTPEnvelope

from gateway.mail import Envelope, header_block_end
from gateway.receive.access import Access, peer_address
from gateway.receive.addresses import address_problem, sender_allowed

if TYPE_CHECKING:
    from gateway.config import RelaySettings

log = logging.getLogger("chaperone")

TEMPFAIL = "451 4.3.0 Temporary local problem, please try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, please try again later"
LOW_DISK = "452 4.3.1 Insufficient system storage, please try again later"

Process = Callable[[Envelope, bytes], Awaitable[str]]

_RECEIVED = re.compile(rb"^received[ \t]*:", re.IGNORECASE | re.MULTILINE)


def hop_count(raw: bytes) -> int:
    """How many mail servers a message has passed: its Received headers (RFC 5321 6.3)."""
    return len(_RECEIVED.findall(raw, 0, header_block_end(raw)))


class RelayHandler:
    def __init__(
        self,
        settings: RelaySettings,
        access: Access,
        process: Process,
        storage_low: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.access = access
        self.process = process
        self.storage_low = storage_low
        self.draining = False
        self.inflight: set[asyncio.Task[str]] = set()

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default answer is a permanent 500 carrying the error
        # text: that bounces mail and leaks internals.
        log.error("smtp session error", exc_info=error)
        return TEMPFAIL

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: SMTPEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.draining:
            return SHUTTING_DOWN
        if not self.access.authorised(session):
            if self.settings.auth_users:
                return "530 5.7.0 Authentication required"
            return "550 5.7.1 Relay access denied: this gateway only relays for the school's mail servers"
        if self.storage_low():
            return LOW_DISK
        utf8 = "SMTPUTF8" in (o.upper() for o in mail_options)
        if address != "<>":
            problem = address_problem(address, utf8)
            if problem:
                return problem
            if not sender_allowed(address, self.settings.sender_domains):
                return "550 5.7.1 Sender address rejected: not one of the school's domains"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: SMTPEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.draining:
            return SHUTTING_DOWN
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return "452 4.5.3 Too many recipients in one message; send the rest in another"
        utf8 = "SMTPUTF8" in (o.upper() for o in envelope.mail_options)
        problem = address_problem(address, utf8)
        if problem:
            return problem
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SMTPEnvelope) -> str:
        raw = envelope.original_content or b""
        if b"\x00" in raw:
            return "550 5.6.0 Message contains NUL characters; not accepted"
        hops = hop_count(raw)
        if hops > self.settings.max_hops:
            log.warning(
                "mail loop: refused", extra={"json": {"hops": hops, "client": str(session.peer)}}
            )
            return f"554 5.4.6 Too many hops ({hops} Received headers): a mail loop; not forwarded"
        peer = peer_address(session) or str(session.peer)
        env = Envelope(
            "" if envelope.mail_from == "<>" else (envelope.mail_from or ""),
            tuple(envelope.rcpt_tos),
            tuple(envelope.mail_options),
            peer,
            session.host_name or "",
        )
        # Shielded: a client timeout or disconnect cancels this hook, but a
        # commit or a forward under way must finish (or never start).
        task = asyncio.ensure_future(self.process(env, raw))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Answered here rather than in handle_exception, so aiosmtpd resets
            # the transaction and the client can go on with the next one.
            log.exception("error while processing a message", extra={"json": {"client": peer}})
            return TEMPFAIL
