from __future__ import annotations

import itertools
import os
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.judge.scan import Scanner
from gateway.store import StoredFinding

from .relay_env import PostgresMissing, ThrowawayPostgres

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "gateway.toml"
PARENT = "parent.one@gmail.com"
STUDENT = "pupil.one@students.heartofengland.example"
STAFF = "t.teacher@heartofengland.example"
PARTNER = "bookings@westmidlandscoaches.example"
# A held copy's finding as the store keeps it: the sender's personal mobile.
PHONE = StoredFinding(
    "personal-phone",
    "personal_phone",
    "quarantine",
    "07700 900999",
    "body",
    "new",
    False,
    "mobile",
    "ring me on 07700 900999 tonight",
    "+447700900999",
)


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


@pytest.fixture(scope="session")
def postgres_server():
    url = os.environ.get("CHAPERONE_TEST_POSTGRES")
    if url:
        yield url
        return
    try:
        server = ThrowawayPostgres().start()
    except PostgresMissing as exc:
        if os.environ.get("CHAPERONE_REQUIRE_POSTGRES"):
            pytest.fail(f"{exc}; install Debian's postgresql package")
        pytest.skip(f"{exc} (set CHAPERONE_REQUIRE_POSTGRES=1 to make this an error)")
    try:
        yield server.url
    finally:
        server.stop()


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
