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
    # A decision waits for another on the same copy, then sees its outcome.
    lock_row = " FOR UPDATE"

    def __init__(self, url: str, error: type[Exception]) -> None:
        self.url = url
        self.path = None
        self._error = error

    @property
    def where(self) -> str:
        """host:port/database, never the password."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            info = conninfo_to_dict(self.url)
        except Exception:  # noqa: BLE001 - a malformed URL: say so, without repeating it
            return "PostgreSQL (the store URL cannot be parsed)"
        host = str(info.get("host") or "localhost")
        return f"PostgreSQL at {host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"

    def check(self) -> None:
        self.connect().close()

    def connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            detail = " ".join(str(exc).split())  # psycopg's text runs over several lines
            raise self._error(f"cannot connect to {self.where}: {detail}") from exc

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
