"""Resource faults at SMTP time: the client gets a 4xx, never a 5xx, and nothing is lost."""

from __future__ import annotations

import os
import smtplib
import subprocess

import pytest

from .conftest import PARENT
from .relay_env import GatewayProcess, Sink
from .test_relay import DIRTY, mail, send


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB filesystem of its own (tmpfs), so the test can fill it without touching anything else."""
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(folder, leave: int = 64 * 1024) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        chunk = b"\0" * 65536
        while True:
            try:
                if os.write(fd, chunk) < len(chunk):
                    break
            except OSError:  # ENOSPC: the disk is full
                break
    finally:
        os.close(fd)
    # Give back a little, so the gateway itself keeps running but a message cannot be stored.
    size = os.path.getsize(folder / "filler")
    os.truncate(folder / "filler", max(0, size - leave))


def test_disk_full_answers_4xx_and_the_retry_is_held_once_space_is_back(small_disk, tmp_path):
    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink).start()
    assert g.data_dir == small_disk
    try:
        assert (
            send(g, mail(DIRTY, to=(PARENT,), subject="before"), [PARENT]) == {}
        )  # the store works
        _fill(small_disk)
        raw = mail(DIRTY + " " + "x" * 600_000, to=(PARENT,), subject="disk-full")
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            send(g, raw, [PARENT])
        assert 400 <= deferred.value.smtp_code < 500
        os.remove(small_disk / "filler")
        assert send(g, raw, [PARENT]) == {}  # the client's retry
        assert sorted(c["subject"] for c in g.copies("held")) == ["before", "disk-full"]
    finally:
        g.stop()
        sink.stop()
