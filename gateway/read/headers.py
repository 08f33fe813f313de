"""Header values as a person reads them: RFC 2047 words, and raw 8-bit values as sent.

SMTPUTF8 mail carries UTF-8 in its headers unencoded, and Postfix passes it
on unchanged. The parser keeps such bytes as surrogate escapes (and hands
them out as ``email.header.Header`` objects that turn them into U+FFFD), so
every header the gateway reads goes through here: raw values are taken from
the parsed message as they were, their 8-bit bytes decoded as UTF-8 first,
then as the declared charset or the usual guess (``charsets.decode_text``),
and only then are encoded words decoded.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
from email.message import Message

from gateway.mail import header_block_end
from gateway.read.charsets import decode_text, unescape_8bit


def raw_values(msg: Message, name: str) -> list[str]:
    """Every value of header ``name``, as received (not yet decoded)."""
    wanted = name.lower()
    return [str(v) for k, v in msg.raw_items() if k.lower() == wanted]


def first_raw(msg: Message, name: str) -> str | None:
    values = raw_values(msg, name)
    return values[0] if values else None


def decode_header(raw: str | None) -> str:
    """One line of text: raw 8-bit bytes decoded, encoded words decoded, runs of space collapsed."""
    if raw is None:
        return ""
    raw = unescape_8bit(str(raw))
    try:
        pieces = email.header.decode_header(raw)
    except Exception:
        return " ".join(raw.split())
    out: list[str] = []
    for chunk, charset in pieces:
        if isinstance(chunk, bytes):
            out.append(decode_text(chunk, charset))
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def header(msg: Message, name: str) -> str:
    """The first value of ``name``, decoded; "" if there is none."""
    return decode_header(first_raw(msg, name))


def disposition(msg: Message) -> str:
    value = unescape_8bit(first_raw(msg, "Content-Disposition") or "")
    return value.split(";")[0].strip().lower()


def filename(msg: Message) -> str:
    """The part's file name from Content-Disposition or Content-Type (RFC 2231 or
    2047, or raw 8-bit), decoded; "" if none."""
    for name, param in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        value = first_raw(msg, name)
        if value is None:
            continue
        value = unescape_8bit(value)
        holder = Message()
        holder[name] = value
        found = holder.get_param(param, header=name.lower())
        if found:
            return decode_header(email.utils.collapse_rfc2231_value(found))
    return ""


def header_fields(raw: bytes) -> tuple[str, str]:
    """Subject and Message-ID as a person reads them, from the header block alone
    (for listing a message the scanner did not read, or could not)."""
    head = raw[: min(header_block_end(raw), 256 * 1024)]
    msg = email.message_from_bytes(head + b"\n\n", policy=email.policy.compat32)
    return header(msg, "Subject"), header(msg, "Message-ID").strip()
