"""The embedded store's free-space floor (like Postfix's ``queue_minfree``).

Below the floor the edge answers MAIL with 452 and the sending server keeps
the mail, rather than a commit failing after DATA. Checked at most every
two seconds; the log says when the state changes.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

log = logging.getLogger("chaperone")


class DiskFloor:
    def __init__(self, path: Path | None, floor_mb: int, interval: float = 2.0) -> None:
        self.path = path  # the store's file; None (PostgreSQL) or floor 0: never low
        self.floor_mb = floor_mb
        self.interval = interval
        self._checked = -1e9
        self._low = False

    def low(self) -> bool:
        if not self.floor_mb or self.path is None:
            return False
        now = time.monotonic()
        if now - self._checked < self.interval:
            return self._low
        self._checked = now
        try:
            free: int | None = shutil.disk_usage(self.path.parent).free
        except OSError:
            free = None  # cannot tell: a failed commit still answers 451
        low = free is not None and free < self.floor_mb * 1024 * 1024
        if low != self._low:
            (log.error if low else log.info)(
                "free disk space below the floor: refusing new mail with 452"
                if low
                else "free disk space above the floor again: accepting mail",
                extra={
                    "json": {
                        "path": str(self.path.parent),
                        "free_mb": (free or 0) // (1024 * 1024),
                        "floor_mb": self.floor_mb,
                    }
                },
            )
        self._low = low
        return low
