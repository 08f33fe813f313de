"""The listening socket: one GatewaySMTP session per connection, under a cap, with TLS if configured."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.receive.handler import RelayHandler
from gateway.receive.session import GatewaySMTP

if TYPE_CHECKING:
    from gateway.config import RelaySettings


class _TooBusy(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"421 4.7.0 Too many connections, please try again later\r\n")
        transport.close()


class Listener:
    """Accepts connections for ``handler``; ``on_count`` hears the number of open sessions."""

    def __init__(
        self,
        settings: RelaySettings,
        handler: RelayHandler,
        on_count: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.on_count = on_count
        self.connections = 0
        self._server: asyncio.AbstractServer | None = None
        self._tls = self._tls_context()  # a bad certificate stops the start, not the first STARTTLS

    def _tls_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if not s.tls_certificate:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(s.tls_certificate, s.tls_key)
        return ctx

    def _closed(self) -> None:
        self.connections -= 1
        self.on_count(self.connections)

    def _protocol(self) -> asyncio.BaseProtocol:
        if self.handler.draining or self.connections >= self.settings.max_connections:
            return _TooBusy()
        self.connections += 1
        self.on_count(self.connections)
        s = self.settings
        auth = (
            {"authenticator": self.handler.access.authenticate, "auth_require_tls": True}
            if s.auth_users
            else {"auth_exclude_mechanism": ["LOGIN", "PLAIN"]}
        )  # nothing to offer
        return GatewaySMTP(
            self.handler,
            on_close=self._closed,
            data_size_limit=s.max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=s.hostname,
            ident="Chaperone",
            tls_context=self._tls,
            require_starttls=s.require_tls,
            timeout=s.timeout_seconds,
            **auth,
            command_call_limit={
                "*": 10000,
                "NOOP": 50,
                "EHLO": 10,
                "HELO": 10,
                "VRFY": 3,
                "EXPN": 3,
                "AUTH": 3,
            },
        )

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host, port, reuse_address=True)

    async def stop(self, grace: float) -> None:
        """Stop accepting; let transactions under way finish (up to ``grace`` seconds)."""
        self.handler.draining = True
        if self._server is not None:
            self._server.close()
        if self.handler.inflight:
            await asyncio.wait(set(self.handler.inflight), timeout=grace)
