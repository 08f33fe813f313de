"""Multipart bodies whose boundary the standard parser does not find, split the way mail programs split them.

Python's ``email`` strips angle brackets and quotes from a ``boundary``
parameter (``boundary="<b1>"`` becomes ``b1``), so the parts of such a
message are never found, and a multipart without a boundary parameter, or
whose boundary no line uses, arrives as one opaque body. GMime, MIME::Tools
and mail programs still show its parts. ``recover_parts`` tries the boundary
exactly as written in the header, then the first delimiter-like line that
recurs in the body; ``None`` when neither splits it (the caller then reads
the body as text).
"""

from __future__ import annotations

import email
import re
from email.message import Message

from gateway.read.headers import first_raw

_BOUNDARY_PARAM = re.compile(r"""boundary\s*=\s*(?:"([^"]*)"|'([^']*)'|([^;\s]+))""", re.IGNORECASE)
_DELIMITER_LINE = re.compile(r"^--([^\s]{1,200}?)[ \t]*\r?$", re.MULTILINE)
_HEADER_LINE = re.compile(r"[!-9;-~]+:")


def _as_written(msg: Message) -> list[str]:
    # Unfolded (RFC 5322 2.2.3): a long boundary is often folded inside its quotes.
    value = re.sub(r"\r?\n(?=[ \t])", "", first_raw(msg, "Content-Type") or "")
    m = _BOUNDARY_PARAM.search(value)
    if not m:
        return []
    written = next(g for g in m.groups() if g is not None)
    return list(dict.fromkeys([written, written.strip("<>")]))


def _guessed(body: str) -> list[str]:
    """Delimiter-looking lines that occur at least twice (a boundary opens every part)."""
    seen: dict[str, int] = {}
    for m in _DELIMITER_LINE.finditer(body):
        key = m.group(1).removesuffix("--")
        seen[key] = seen.get(key, 0) + 1
    return [b for b, n in seen.items() if n >= 2 and b.strip("-")]


def _split(body: str, boundary: str) -> list[Message] | None:
    delimiter = re.compile(r"^--" + re.escape(boundary) + r"(--)?[ \t]*\r?$", re.MULTILINE)
    marks = list(delimiter.finditer(body))
    if not marks or marks[0].group(1):
        return None
    parts = []
    preamble = body[: marks[0].start()]
    if preamble.strip():  # text before the first part is shown by some programs: read it
        parts.append(email.message_from_string("\n" + preamble))
    for here, after in zip(marks, [*marks[1:], None], strict=True):
        if here.group(1):
            break  # the closing delimiter
        chunk = body[here.end() : after.start() if after else len(body)]
        chunk = chunk.removeprefix("\r\n").removeprefix("\n")
        if not _HEADER_LINE.match(chunk):
            chunk = "\n" + chunk  # no headers: all of it is the part's text
        parts.append(email.message_from_string(chunk))
    return parts or None


def recover_parts(msg: Message) -> list[Message] | None:
    body = msg.get_payload()
    if not isinstance(body, str) or not body:
        return None
    for boundary in (*_as_written(msg), *_guessed(body)):
        parts = _split(body, boundary)
        if parts:
            return parts
    return None
