"""The shared store's database: PostgreSQL through psycopg 3, for several gateway nodes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

PREFIXES = ("postgresql://", "postgres://")


class PostgreSQL:
    name = "postgresql"
    # Rows another node is claiming are skipped, not waited for.
    lock_rows = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, error: type[Exception]) -> None:
        self.url = url
        self.path = None
        self._error = error

    def connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise self._error(f"cannot connect to PostgreSQL: {exc}".strip()) from exc

    def alive(self, conn: Any, reconnect: Callable[[], Any]) -> Any:
        """A connection that answers: one the server has dropped (restart,
        failover, terminated backend) is replaced before the transaction starts,
        so the first message after an outage is not refused for nothing."""
        import psycopg

        try:
            conn.execute("SELECT 1")
            return conn
        except psycopg.OperationalError:
            return reconnect()

    @contextmanager
    def transaction(self, conn: Any, write: bool) -> Iterator[Any]:
        with conn.transaction():
            yield conn

    def is_error(self, exc: BaseException) -> bool:
        return type(exc).__module__.startswith("psycopg")

    def is_broken(self, conn: Any) -> bool:
        return bool(getattr(conn, "closed", False) or getattr(conn, "broken", False))

    def execute(self, conn: Any, sql: str, params: Any = ()) -> Any:
        return conn.execute(sql.replace("?", "%s"), params)

    def exclusive(self, key: int) -> str | None:
        # Held to the end of the transaction: several nodes starting at once
        # migrate one at a time; concurrent logins reserve one at a time.
        return f"SELECT pg_advisory_xact_lock({int(key)})"
