"""The tools users meet first: swaks through the gateway to Postfix's smtp-sink, and docker-compose.yml."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import PARENT, STAFF
from .relay_env import ROOT, GatewayProcess, Sink, free_port


def need(tool: str) -> str:
    path = shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}",) if os.path.exists(p)), None
    )
    if path:
        return path
    if os.environ.get("CHAPERONE_REQUIRE_TOOLS"):
        pytest.fail(f"{tool} is not installed (.ci/run installs it)")
    pytest.skip(f"{tool} is not installed")


def test_docker_compose_file_is_valid():
    compose = need("docker-compose")
    done = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    services = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert set(services) == {"gateway", "web", "postgres", "mailcatcher"}


def test_swaks_through_the_gateway_to_postfix_smtp_sink(tmp_path):
    swaks, smtp_sink = need("swaks"), need("smtp-sink")
    dump = Path(tempfile.mkdtemp(prefix="chaperone-sink-"))
    os.chmod(dump, 0o777)  # smtp-sink runs as nobody
    port = free_port()
    sink_proc = subprocess.Popen(
        [smtp_sink, "-u", "nobody", "-d", f"{dump}/%H%M%S.", f"127.0.0.1:{port}", "50"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    g = GatewayProcess(tmp_path, Sink(port=port)).start()
    try:

        def swaks_send(body: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [
                    swaks,
                    "--server",
                    f"127.0.0.1:{g.port}",
                    "--from",
                    STAFF,
                    "--to",
                    PARENT,
                    "--header",
                    f"Subject: {body[:12]}",
                    "--body",
                    body,
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )

        clean = swaks_send("The coach leaves at 9 tomorrow.")
        assert clean.returncode == 0 and "250 2.0.0 Ok: queued as" in clean.stdout
        dirty = swaks_send("Text me on 07700 900999 if the coach is late.")
        assert dirty.returncode == 0
        deadline = time.monotonic() + 10
        while not list(dump.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        delivered = b"".join(p.read_bytes() for p in dump.iterdir())
        # The held one is not delivered (its sender's notice, which quotes the
        # number as evidence, is, so look for the rest of the sentence).
        assert b"The coach leaves at 9" in delivered and b"if the coach is late" not in delivered
        assert [c["subject"] for c in g.copies("held")] == ["Text me on 0"]
    finally:
        g.stop()
        sink_proc.terminate()
        sink_proc.wait(10)
        shutil.rmtree(dump, ignore_errors=True)
