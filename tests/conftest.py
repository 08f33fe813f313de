from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.judge.scan import Scanner

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "gateway.toml"
PARENT = "parent.one@gmail.com"
STUDENT = "pupil.one@students.heartofengland.example"
STAFF = "t.teacher@heartofengland.example"
PARTNER = "bookings@westmidlandscoaches.example"


@pytest.fixture(scope="session")
def config():
    return load_config(CONFIG)


@pytest.fixture(scope="session")
def scanner(config):
    return Scanner(config)


def mail(
    body: str = "Hello.",
    *,
    to=(PARENT,),
    cc=(),
    subject="Hello",
    html: str | None = None,
    sender=f"Tess Teacher <{STAFF}>",
    date="Mon, 23 Nov 2026 16:00:00 +0000",
    headers=None,
    attachments=(),
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = ", ".join(to)
    if cc:
        m["Cc"] = ", ".join(cc)
    m["Subject"] = subject
    m["Date"] = date
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    if html is not None:
        m.add_alternative(html, subtype="html")
    for name, maintype, subtype, data in attachments:
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(m)


def example_config(tmp_path: Path, text: str | None = None, *, rules: Path | None = None) -> Path:
    """The example configuration (or ``text``, a changed copy of it) written to ``tmp_path``,
    its relative paths (directory CSVs, rules, templates) made absolute so they still resolve."""
    text = CONFIG.read_text(encoding="utf-8") if text is None else text
    if rules is not None:  # a test's own small rule set covers only what it tests
        text = re.sub(r"(?ms)^categories = \[.*?\]", "categories = []", text, count=1)
    path = tmp_path / "gateway.toml"
    path.write_text(
        text.replace('"parents.csv"', f'"{CONFIG.parent / "parents.csv"}"')
        .replace('"staff.csv"', f'"{CONFIG.parent / "staff.csv"}"')
        .replace('paths = ["../rules"]', f'paths = ["{rules or ROOT / "rules"}"]')
        .replace('templates = "templates"', f'templates = "{CONFIG.parent / "templates"}"')
    )
    return path


def categories(result) -> set[str]:
    return {f.category for f in result.findings}


# -- databases ---------------------------------------------------------------
# The store tests run on SQLite and on a real PostgreSQL. With
# CHAPERONE_TEST_POSTGRES=postgresql://... they use that server; otherwise
# they start a throwaway cluster from the machine's PostgreSQL binaries
# (.ci/run installs Debian's package). CHAPERONE_REQUIRE_POSTGRES=1 turns
# "PostgreSQL is not installed" from a skip into a failure, as CI wants.


def _postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    url = os.environ.get("CHAPERONE_TEST_POSTGRES")
    if url:
        yield url
        return
    bindir = _postgres_bindir()
    if bindir is None:
        if os.environ.get("CHAPERONE_REQUIRE_POSTGRES"):
            pytest.fail(
                "PostgreSQL binaries (initdb) not found; install Debian's postgresql package"
            )
        pytest.skip(
            "PostgreSQL is not installed (set CHAPERONE_REQUIRE_POSTGRES=1 to make this an error)"
        )
    # Not under pytest's tmp dir: as root that is private to root, and the
    # server runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="chaperone-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
    data = base / "data"
    port = _free_port()
    done = subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "chaperone",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.fail(f"initdb failed: {done.stderr}")
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(base / "log"),
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://chaperone@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


_db_counter = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh, empty store URL on each database in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chaperone.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty PostgreSQL database."""
    import psycopg

    server = postgres_server
    name = f"chaperone_test_{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name
