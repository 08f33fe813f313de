from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.scanner import Scanner

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


def mail(body: str = "Hello.", *, to=(PARENT,), cc=(), subject="Hello", html: str | None = None,
         sender=f"Tess Teacher <{STAFF}>", date="Mon, 23 Nov 2026 16:00:00 +0000", headers=None,
         attachments=()) -> bytes:
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


def categories(result) -> set[str]:
    return {f.category for f in result.findings}
