"""A development next hop: accepts everything and writes each message to a folder.

``gateway serve --dev-sink DIR`` starts it on the configured next-hop
address, so a newcomer can send mail through the gateway and see what was
delivered without a real mail server. Not for production.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from aiosmtpd.smtp import SMTP

log = logging.getLogger("chaperone")


class SinkHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.count += 1
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{self.count:05d}.eml"
        path = self.folder / name
        path.write_bytes(envelope.original_content)
        log.info(
            "dev sink delivered",
            extra={
                "json": {"event": "dev-sink", "file": str(path), "rcpts": list(envelope.rcpt_tos)}
            },
        )
        return "250 2.0.0 Ok: delivered to the development sink"


class DevSink:
    def __init__(self, host: str, port: int, folder: Path) -> None:
        self.host, self.port = host, port
        self.folder = folder
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handler = SinkHandler(self.folder)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                handler, hostname="dev-sink", ident="Chaperone dev sink", enable_SMTPUTF8=True
            ),
            self.host,
            self.port,
            reuse_address=True,
        )

    async def stop(self) -> None:
        if self._server:
            self._server.close()
