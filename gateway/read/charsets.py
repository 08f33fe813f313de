"""Bytes whose charset label may be wrong, unknown or missing, decoded as a mail program would."""

from __future__ import annotations

import codecs

_CHARSET_ALIASES = {
    "utf8": "utf-8",
    "ascii": "us-ascii",
    "latin1": "iso-8859-1",
    "unicode-1-1-utf-7": "utf-7",
}


def decode_text(data: bytes, declared: str | None, notes: list[str] | None = None) -> str:
    """Decode bytes whose charset label may be wrong, unknown or missing.

    Order: the declared charset if Python knows it and it decodes cleanly;
    UTF-8; Windows-1252 (what "iso-8859-1" and unlabelled Western mail usually
    is); and finally the declared charset or UTF-8 with replacement characters.
    """
    label = (declared or "").strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    codec = None
    if label:
        try:
            codec = codecs.lookup(label).name
        except LookupError:
            if notes is not None:
                notes.append(f"unknown charset {label!r}; decoded by guessing")
    if codec in {"ascii", "us-ascii"}:
        codec = None  # 8-bit bytes under an ascii label are common; guess instead
    candidates = [c for c in (codec, "utf-8", "cp1252") if c]
    if codec in {"latin_1", "iso8859-1", "iso8859_1"}:
        candidates = ["cp1252", "latin-1"]
    for c in candidates:
        try:
            return data.decode(c)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(codec or "utf-8", errors="replace")


def unescape_8bit(text: str) -> str:
    """Text the parser read as ASCII with surrogate escapes (raw 8-bit header values,
    preambles), its 8-bit bytes decoded as UTF-8 first, then as the usual guess."""
    if text.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_text(text.encode("utf-8", "surrogateescape"), "utf-8")
