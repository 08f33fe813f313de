"""docs/postfix.md, run as written: a real Postfix hands mail to the gateway once.

The ``main.cf`` and ``master.cf`` blocks of the recipe are lifted from the
document, their ports moved to free ones, and added to a private Postfix
instance (its own configuration directory, queue and log) whose final relay is
a test sink standing in for the internet.
"""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from .conftest import PARENT, STAFF
from .relay_env import ROOT, GatewayProcess, Sink, free_port
from .test_setup import need

RECIPE = ROOT / "docs" / "postfix.md"


def recipe_block(name: str) -> str:
    m = re.search(rf"```{re.escape(name)}\n(.*?)```", RECIPE.read_text(), re.S)
    assert m, f"docs/postfix.md has no {name} block"
    return m.group(1)


class Postfix:
    """A private Postfix instance in ``root``, listening on 127.0.0.1:``port``."""

    def __init__(self, root: Path, *, gateway_port: int, reinject_port: int, internet: int):
        self.root, self.port = root, free_port()
        self.etc, queue, data = root / "etc", root / "queue", root / "data"
        for d in (self.etc, queue, data):
            d.mkdir(parents=True)
        shutil.chown(data, "postfix")
        self.maillog = root / "maillog"
        own = f"""\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mail.heartofengland.example
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{internet}
maillog_file_prefixes = {root}
maillog_file = {self.maillog}
"""
        main = recipe_block("main.cf").replace("127.0.0.1]:2525", f"127.0.0.1]:{gateway_port}")
        master = recipe_block("master.cf").replace("127.0.0.1:10026", f"127.0.0.1:{reinject_port}")
        (self.etc / "main.cf").write_text(own + main)
        stock = Path("/usr/share/postfix/master.cf.dist").read_text()
        (self.etc / "master.cf").write_text(stock + master)
        # Outside a chroot, and the public listener on a free port.
        self.postconf("-F", "*/*/chroot = n")
        self.postconf("-F", f"smtp/inet/service = 127.0.0.1:{self.port}")

    def postconf(self, *args: str) -> None:
        subprocess.run([need("postconf"), "-c", str(self.etc), *args], check=True, timeout=30)

    def control(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [need("postfix"), "-c", str(self.etc), command],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def log(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    def start(self) -> Postfix:
        done = self.control("start")
        assert done.returncode == 0, self.log()
        end = time.monotonic() + 20
        while time.monotonic() < end:
            try:
                smtplib.SMTP("127.0.0.1", self.port, timeout=5).quit()
                return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"postfix did not listen:\n{self.log()}")

    def stop(self) -> None:
        self.control("stop")


@pytest.fixture
def mail_system(tmp_path):
    need("postfix")
    if os.geteuid() != 0:
        pytest.skip("a private Postfix instance needs root")
    internet = Sink().start()
    reinject = free_port()
    (tmp_path / "gw").mkdir()
    gateway = GatewayProcess(
        tmp_path / "gw", Sink(port=reinject), sender_domains=("heartofengland.example",)
    ).start()
    root = Path(f"/tmp/chaperone-postfix-{os.getpid()}-{free_port()}")  # short: socket paths
    postfix = Postfix(
        root, gateway_port=gateway.port, reinject_port=reinject, internet=internet.port
    ).start()
    yield postfix, gateway, internet
    postfix.stop()
    gateway.stop()
    internet.stop()
    shutil.rmtree(root, ignore_errors=True)


def letter(body: str, subject: str) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = STAFF, PARENT, subject
    m.set_content(body)
    return m


def test_postfix_hands_each_message_to_the_gateway_once(mail_system):
    postfix, gateway, internet = mail_system
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as client:
        client.send_message(letter("The coach leaves at 9 tomorrow.", "coach"))
        client.send_message(letter("Text me on 07700 900999 if you are late.", "late"))
    [clean] = internet.wait_for_text(PARENT, b"Subject: coach", timeout=60)
    # Once through the gateway: its trace header once, and no copy looping round.
    assert clean.data.count(b"by gateway.test") == 1, clean.data.decode(errors="replace")
    [notice] = internet.wait_for(STAFF, timeout=60)
    assert b"Subject: late" not in b"".join(m.data for m in internet.to(PARENT))
    assert [c["subject"] for c in gateway.copies("held")] == ["late"]
    # Each letter reached the gateway once: a loop would bring it back again.
    seen = [r for r in gateway.log_records() if r.get("event") == "message"]
    assert sorted(r["recipients"][0]["verdict"] for r in seen) == ["forwarded", "held"], seen
    assert "status=sent" in postfix.log()
