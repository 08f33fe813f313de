"""`gateway serve` refuses to start on a damaged store or a busy port, and says which."""

from __future__ import annotations

import socket
import sqlite3
import subprocess

import pytest

from gateway.store import open_store

from .relay_env import GATEWAY, GatewayProcess, Sink, free_port


def serve_fails(g: GatewayProcess) -> str:
    """Start ``gateway serve`` and expect it to exit; its stderr."""
    process = subprocess.Popen(
        [str(GATEWAY), "serve", "--config", str(g.config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=g.tmp,
    )
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"gateway serve kept running:\n{err}")
    assert process.returncode == 1, err
    assert '"msg": "listening"' not in err
    return err


def _last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


def test_a_sqlite_file_with_corrupt_pages_stops_the_start_naming_the_file(tmp_path):
    g = GatewayProcess(tmp_path, Sink())
    open_store(data_dir=g.data_dir).close()  # a real store, every table created
    db = g.data_dir / "chaperone.db"
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    size = db.stat().st_size
    assert size >= 6 * page
    # The header and the schema stay sound; the last table's page does not.
    with db.open("r+b") as f:
        f.seek(size - page)
        f.write(b"\xa5" * page)
    err = serve_fails(g)
    assert f"the SQLite store at {db} is damaged (quick_check:" in _last_line(err)


def test_a_locked_sqlite_file_stops_the_start_naming_the_file(tmp_path):
    g = GatewayProcess(tmp_path, Sink())
    open_store(data_dir=g.data_dir).close()
    db = g.data_dir / "chaperone.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        line = _last_line(serve_fails(g))
    finally:
        holder.close()
    assert f"the SQLite store at {db} is locked" in line and "another process" in line


def test_an_unreachable_postgresql_is_named_by_host_port_and_database_not_password(tmp_path):
    port = free_port()  # nothing listens there
    g = GatewayProcess(
        tmp_path, Sink(), store_url=f"postgresql://chaperone:s3cret-pw@127.0.0.1:{port}/chaperone"
    )
    err = serve_fails(g)
    assert f"PostgreSQL at 127.0.0.1:{port}/chaperone" in _last_line(err)
    assert "s3cret-pw" not in err


@pytest.mark.parametrize("busy", ["metrics", "smtp"])
def test_a_busy_port_is_named_with_the_setting_it_comes_from(tmp_path, busy):
    g = GatewayProcess(tmp_path, Sink())
    port, key = (
        (g.metrics_port, "relay.metrics_listen") if busy == "metrics" else (g.port, "relay.listen")
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        line = _last_line(serve_fails(g))
    assert f"on 127.0.0.1:{port} ({key})" in line
    other = g.port if busy == "metrics" else g.metrics_port
    assert str(other) not in line
