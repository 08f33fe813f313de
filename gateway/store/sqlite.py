"""The embedded store's database: one SQLite file, WAL, every commit fsynced."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PREFIX = "sqlite:///"


def _private(path: Path) -> None:
    """Held mail about children is readable by the gateway's user alone: the data
    directory 0700, the database and its -wal and -shm files 0600 (SQLite gives
    the journal files the database file's mode)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.parent.stat().st_mode & 0o077:  # mkdir's mode is masked by the umask, or made elsewhere
        path.parent.chmod(0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


class SQLite:
    name = "sqlite"
    lock_rows = ""  # BEGIN IMMEDIATE already serialises writers
    lock_row = ""

    def __init__(self, url: str, error: type[Exception]) -> None:
        self.path: Path | None = Path(url.removeprefix(PREFIX))
        self._error = error

    def connect(self) -> sqlite3.Connection:
        assert self.path is not None
        try:
            _private(self.path)
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: the WAL is fsynced at every commit, so a committed
            # hold survives kill -9 and power loss alike.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as exc:
            raise self._error(f"cannot open the SQLite store at {self.path}: {exc}") from exc
        return conn

    @property
    def where(self) -> str:
        return f"the SQLite store at {self.path}"

    def check(self) -> None:
        """At start: a file whose header is sound but whose pages are not opens
        fine and fails at the first held message, so read every page now
        (``quick_check``), and do not wait long for a lock another process holds."""
        assert self.path is not None
        try:
            _private(self.path)
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
            try:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise self._error(
                    f"{self.where} is locked ({exc}): another process holds it; stop that "
                    "process, or give this gateway its own data_dir"
                ) from exc
            raise self._error(f"cannot open {self.where}: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
            problems = [str(exc)]
        except OSError as exc:
            raise self._error(f"cannot open {self.where}: {exc}") from exc
        if problems != ["ok"]:
            raise self._error(
                # One line: quick_check's rows may hold line breaks of their own.
                f"{self.where} is damaged (quick_check: {' '.join('; '.join(problems[:3]).split())}): "
                "restore it from a backup, or move it aside to start with an empty store"
            )

    def alive(self, conn: sqlite3.Connection, reconnect: Callable[[], Any]) -> sqlite3.Connection:
        return conn  # a file does not go away between transactions

    @contextmanager
    def transaction(self, conn: sqlite3.Connection, write: bool) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError)

    def is_broken(self, conn: Any) -> bool:
        return False

    def execute(self, conn: sqlite3.Connection, sql: str, params: Any = ()) -> Any:
        return conn.execute(sql, params)

    def exclusive(self, key: int) -> str | None:
        return None  # BEGIN IMMEDIATE: one writer at a time already
