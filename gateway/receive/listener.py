"""The listening socket: one GatewaySMTP session per connection, under a cap, with TLS if configured."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.receive.handler import SHUTTING_DOWN, RelayHandler
from gateway.receive.session import GatewaySMTP

if TYPE_CHECKING:
    from gateway.config import RelaySettings

TOO_BUSY = "421 4.7.0 Too many connections, please try again later"
TOO_MANY_FROM_YOU = "421 4.7.0 Too many connections from your address, please try again later"
NOT_SERVED = "554 5.7.1 This gateway only serves the school's mail servers"


def _host(peer: object) -> str:
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


class Listener:
    """Accepts connections for ``handler``; ``on_count`` hears the number of open sessions.

    A client outside the trusted networks is refused at once unless it can
    log in (SMTP AUTH is configured); then it gets at most
    ``max_connections_per_address`` connections, and all such clients
    together at most half of ``max_connections``: idle connections from
    elsewhere never lock out the school's own mail server.
    """

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
        # Open connections per address outside the trusted networks.
        self.untrusted: Counter[str] = Counter()
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

    def _admit(self, peer: object) -> str | None:
        """None to serve this client, or the reply that turns it away."""
        s = self.settings
        if self.handler.draining:
            return SHUTTING_DOWN
        if self.connections >= s.max_connections:
            return TOO_BUSY
        host = _host(peer)
        if not self.handler.access.trusted(host):
            if not s.auth_users:
                return NOT_SERVED
            if self.untrusted.total() >= s.max_connections // 2:
                return TOO_BUSY
            if self.untrusted[host] >= s.max_connections_per_address:
                return TOO_MANY_FROM_YOU
            self.untrusted[host] += 1
        self.connections += 1
        self.on_count(self.connections)
        return None

    def _closed(self, peer: object) -> None:
        host = _host(peer)
        if host in self.untrusted:
            self.untrusted[host] -= 1
            if self.untrusted[host] <= 0:
                del self.untrusted[host]
        self.connections -= 1
        self.on_count(self.connections)

    def _protocol(self) -> asyncio.BaseProtocol:
        s = self.settings
        auth = (
            {"authenticator": self.handler.access.authenticate, "auth_require_tls": True}
            if s.auth_users
            else {"auth_exclude_mechanism": ["LOGIN", "PLAIN"]}
        )  # nothing to offer
        return GatewaySMTP(
            self.handler,
            admit=self._admit,
            on_close=self._closed,
            authorised=self.handler.access.authorised,
            timeout_before_auth=s.timeout_before_auth_seconds,
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

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> None:
        """``reuse_port``: one of several relay processes on this port (SO_REUSEPORT),
        among which the kernel spreads new connections."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, host, port, reuse_address=True, reuse_port=reuse_port
        )

    async def stop(self, grace: float) -> None:
        """Stop accepting; let transactions under way finish (up to ``grace`` seconds)."""
        self.handler.draining = True
        if self._server is not None:
            self._server.close()
        if self.handler.inflight:
            await asyncio.wait(set(self.handler.inflight), timeout=grace)
