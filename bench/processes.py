"""A benchmark's processes as /proc sees them: their tree, CPU time and peak memory. Linux only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    role: str  # what it is in the benchmark: "relay (gateway serve)", "scan worker", "sink", ...


def _stat(pid: int) -> list[str]:
    # The command name in parentheses may hold spaces: the fields start after its ")".
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(int(entry))[1]) == pid:
                    out.append(int(entry))
            except (OSError, IndexError):
                continue
    return sorted(out)


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")


def gateway_tree(pid: int) -> list[Process]:
    """``gateway serve`` and its helpers: the fork server, the scan workers it forked, the resource tracker."""
    out = [Process(pid, "relay (gateway serve)")]
    for child in _children(pid):
        try:
            command = _command(child)
        except OSError:
            continue
        if "forkserver" in command:
            out.append(Process(child, "fork server"))
            out += [Process(worker, "scan worker") for worker in _children(child)]
        elif "resource_tracker" in command:
            out.append(Process(child, "resource tracker"))
        else:
            out.append(Process(child, "child of the relay"))
    return out


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory_mb(pid: int) -> float:
    """VmHWM, the most resident memory the process has held since it started, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
