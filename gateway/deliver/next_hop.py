"""Forwarding to the next hop: aiosmtplib over reused connections.

aiosmtplib has no pool of its own, and a new connection per message costs
five times the throughput, so ``NextHop`` keeps idle connections and hands
each transaction one of them. A connection that saw any error, a 421, or
has carried enough messages or lived long enough is closed rather than
reused. Every outcome is classified per recipient: accepted, temporary (4xx,
connection trouble) or permanent (5xx), because aiosmtplib only raises when
*every* recipient is refused.

The DATA step is the gateway's own (``_data``): aiosmtplib's turns every
bare CR into a CRLF, and that change to the body breaks the sender's DKIM
signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiosmtplib

from gateway.config import HostPort

# Only these MAIL parameters describe the message itself and must travel on
# with it; SIZE is recomputed (wire_size).
_PASSED_ON = ("BODY=8BITMIME", "SMTPUTF8")


@dataclass(frozen=True, slots=True)
class Delivery:
    accepted: tuple[str, ...]
    temporary: dict[str, str] = field(default_factory=dict)  # recipient -> next hop's reply
    permanent: dict[str, str] = field(default_factory=dict)
    reply: str = ""  # the next hop's answer to DATA, or what went wrong
    # The body may have reached the next hop before the failure (a timeout or
    # disconnect waiting for the final reply): a retry can duplicate it.
    possible_duplicate: bool = False


_BARE_LF = re.compile(rb"(?<!\r)\n")
# A dot at the start of the data, after a line ending, or after a bare CR.
_LINE_START_DOT = re.compile(rb"(?<![^\r\n])\.")


def wire_form(data: bytes) -> bytes:
    """The message as DATA carries it, before dot-stuffing.

    A bare LF becomes a CRLF: some servers end lines at a bare LF, so
    ``<LF>.<LF>`` would end the message early there (SMTP smuggling), and
    Postfix makes the same change. A bare CR stays exactly as received, so a
    DKIM signature over it still verifies. The data ends in a CRLF.
    """
    if data.count(b"\n") != data.count(b"\r\n"):
        data = _BARE_LF.sub(b"\r\n", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def dot_stuffed(wire: bytes) -> bytes:
    """RFC 5321 4.5.2: a line that starts with a dot gets a second one.

    A dot after a bare CR is doubled too: a server that ends lines at a bare
    CR would otherwise read ``<CR>.<CRLF>`` as the end of the data, or drop
    the dot. The price, on that rare line only: a server that does not (as
    RFC 5321 says) keeps both dots.
    """
    return _LINE_START_DOT.sub(b"..", wire)


def wire_size(data: bytes) -> int:
    """RFC 1870 SIZE: the octets of ``wire_form(data)``, found without
    rewriting a message whose line endings are all CRLF already, as SMTP
    delivers them."""
    if data.count(b"\n") == data.count(b"\r\n"):
        return len(data) + (0 if data.endswith(b"\r\n") else 2)
    return len(wire_form(data))


async def _data(client: aiosmtplib.SMTP, data: bytes) -> aiosmtplib.SMTPResponse:
    """aiosmtplib's ``data()``, sending the bytes as received (``wire_form``)."""
    payload = dot_stuffed(wire_form(data)) + b".\r\n"
    try:
        start = await client.execute_command(b"DATA")
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        # No await between the write and read_response, which marks a reply
        # as expected: the reply cannot arrive unread in between.
        protocol.write(payload)
        response = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if response.code != 250:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


@dataclass(slots=True)
class _Progress:
    data_sent: bool = False  # DATA was sent: from here on the next hop may store the message


async def _transaction(
    client: aiosmtplib.SMTP,
    sender: str,
    rcpts: list[str],
    data: bytes,
    options: list[str],
    progress: _Progress,
    before_data: Callable[[], Awaitable[None]] | None = None,
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    """aiosmtplib's ``sendmail``, step by step with its public commands, less
    its second pass over the message for SIZE. Raises as ``sendmail`` does:
    SMTPRecipientsRefused when every recipient is refused, the command's own
    error otherwise (after RSET). ``before_data`` runs once the recipients are
    accepted and before DATA; if it raises, DATA is never sent."""
    utf8 = any(o.upper() == "SMTPUTF8" for o in options)
    encoding = "utf-8" if utf8 else "ascii"
    if client.is_ehlo_or_helo_needed:  # as sendmail: EHLO, or HELO for a server without ESMTP
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not client.is_connected:
                raise
            await client.helo()
    if utf8 and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    mail_options = (
        [f"SIZE={wire_size(data)}", *options]
        if client.supports_extension("size")
        else list(options)
    )
    refused: list[aiosmtplib.SMTPRecipientRefused] = []
    try:
        await client.mail(sender, options=mail_options, encoding=encoding)
        for rcpt in rcpts:
            try:
                await client.rcpt(rcpt, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused.append(exc)
        if len(refused) == len(rcpts):
            raise aiosmtplib.SMTPRecipientsRefused(refused)
        if before_data is not None:
            await before_data()
        progress.data_sent = True
        response = await _data(client, data)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
            await client.rset()
        raise
    return {
        r.recipient: aiosmtplib.SMTPResponse(r.code, r.message) for r in refused
    }, response.message


def _reply(code: int, message: str) -> str:
    text = " ".join(str(message).split())[:300]
    return f"{code} {text}" if code > 0 else text


@dataclass(slots=True)
class _Connection:
    client: aiosmtplib.SMTP
    opened: float
    messages: int = 0


class NextHop:
    def __init__(
        self,
        address: HostPort,
        *,
        local_hostname: str,
        starttls: bool = False,
        ca_file: str | None = None,
        timeout: float = 120.0,
        max_connections: int = 20,
        max_messages_per_connection: int = 100,
        max_age_seconds: float = 300.0,
    ) -> None:
        self.address = address
        self.local_hostname = local_hostname
        self.starttls = starttls
        self.ca_file = ca_file
        self.timeout = timeout
        self.max_messages = max_messages_per_connection
        self.max_age = max_age_seconds
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def _open(self) -> _Connection:
        tls: dict = {}
        if self.starttls:
            context = ssl.create_default_context(cafile=self.ca_file)
            tls = {"start_tls": True, "tls_context": context}
        else:
            tls = {"start_tls": False}
        client = aiosmtplib.SMTP(
            hostname=self.address.host,
            port=self.address.port,
            local_hostname=self.local_hostname,
            timeout=self.timeout,
            **tls,
        )
        await client.connect()
        return _Connection(client, time.monotonic())

    async def _acquire(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.client.is_connected and now - conn.opened < self.max_age:
                return conn
            await self._discard(conn)
        return await self._open()

    async def _discard(self, conn: _Connection) -> None:
        with contextlib.suppress(Exception):
            conn.client.close()

    def _release(self, conn: _Connection) -> None:
        conn.messages += 1
        if conn.messages < self.max_messages and conn.client.is_connected:
            self._idle.append(conn)
        else:
            asyncio.ensure_future(self._quit(conn))

    @staticmethod
    async def _quit(conn: _Connection) -> None:
        try:
            await conn.client.quit(timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            conn.client.close()

    async def send(
        self,
        mail_from: str,
        rcpts: list[str],
        data: bytes,
        mail_options: list[str] | tuple[str, ...] = (),
        *,
        before_data: Callable[[], Awaitable[None]] | None = None,
    ) -> Delivery:
        """One transaction for these recipients; never raises for SMTP or network trouble.

        ``before_data`` (say, recording that the copy may reach the next hop from
        now on) runs just before DATA; what it raises propagates, DATA unsent.
        """
        sender = "" if mail_from in ("<>", "") else mail_from
        options = [o for o in mail_options if o.upper() in _PASSED_ON]
        async with self._slots:
            try:
                conn = await self._acquire()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                reason = f"next hop {self.address} unreachable ({type(exc).__name__})"
                return Delivery((), dict.fromkeys(rcpts, reason), {}, reason)
            progress = _Progress()
            try:
                errors, reply = await _transaction(
                    conn.client, sender, rcpts, data, options, progress, before_data
                )
            except aiosmtplib.SMTPRecipientsRefused as exc:
                self._release(conn)
                temporary: dict[str, str] = {}
                permanent: dict[str, str] = {}
                for refusal in exc.recipients:
                    (temporary if refusal.code // 100 != 5 else permanent)[refusal.recipient] = (
                        _reply(refusal.code, refusal.message)
                    )
                return Delivery((), temporary, permanent, "all recipients refused")
            except aiosmtplib.SMTPResponseException as exc:
                await self._discard(conn)
                text = _reply(exc.code, exc.message)
                if exc.code // 100 == 5:
                    return Delivery((), {}, dict.fromkeys(rcpts, text), text)
                return Delivery((), dict.fromkeys(rcpts, text), {}, text)
            except (aiosmtplib.SMTPException, OSError, TimeoutError, ValueError) as exc:
                await self._discard(conn)
                text = f"next hop {self.address}: {type(exc).__name__}"
                # DATA sent and no final answer (a timeout, a disconnect): the next
                # hop may have stored the message, so a retry may duplicate it.
                return Delivery(
                    (), dict.fromkeys(rcpts, text), {}, text, possible_duplicate=progress.data_sent
                )
            except BaseException:
                await self._discard(conn)
                raise
            self._release(conn)
        temporary, permanent = {}, {}
        for rcpt, response in errors.items():
            (permanent if response.code // 100 == 5 else temporary)[rcpt] = _reply(
                response.code, response.message
            )
        accepted = tuple(r for r in rcpts if r not in errors)
        return Delivery(accepted, temporary, permanent, " ".join(reply.split())[:300])

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(c) for c in idle), return_exceptions=True)
