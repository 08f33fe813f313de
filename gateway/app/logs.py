"""The gateway's log: one JSON object per line, on stderr."""

from __future__ import annotations

import json
import logging
import sys

# A library's message may quote what it was reading (pypdf quotes the bytes of
# a malformed attachment): no more than this much of it reaches the log.
LIBRARY_MESSAGE_CHARS = 200

# Libraries heard only from this level up: aiosmtpd's per-command chatter, and
# pypdf's complaints about a malformed file, which the reader already turns
# into an unread part with its reason.
QUIET = {"mail.log": logging.WARNING, "pypdf": logging.ERROR}


class JsonLines(logging.Formatter):
    """One JSON object per line; message records carry their fields in ``extra={'json': ...}``.

    ``fields`` go on every line: which relay process wrote it, when several
    share one log (``gateway serve --processes N``).
    """

    def __init__(self, fields: dict[str, object] | None = None) -> None:
        super().__init__()
        self.fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "msg": msg,
            **self.fields,
        }
        if record.name != "chaperone" and not record.name.startswith("chaperone."):
            out["logger"] = record.name
            if len(msg) > LIBRARY_MESSAGE_CHARS:
                out["msg"] = msg[:LIBRARY_MESSAGE_CHARS] + "..."
        out.update(getattr(record, "json", {}))
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, ensure_ascii=False)


def setup_logging(fields: dict[str, object] | None = None) -> None:
    """Every logger, the libraries' too, writes through JsonLines to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines(fields))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)  # warnings.warn() too, not as bare text
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
