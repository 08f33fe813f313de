"""Text as a reader sees it: folded compatibility forms, no invisible characters.

Detectors never look at raw decoded text. They look at a ``NormalizedText``,
which keeps a map back to the decoded text so that every finding can be shown
where it really is.

What normalisation does, and why:

* NFKC folds full-width, circled and mathematical digits and letters
  (``０７９`` -> ``079``, ``⓪`` -> ``0``, ``＠`` -> ``@``).
* Invisible characters (zero-width spaces and joiners, soft hyphens, bidi
  controls, variation selectors, tag characters, Hangul fillers, Braille blank)
  are removed, and their presence is recorded: hiding characters inside a
  number or a word is itself a signal.
* Every dash becomes ``-``, every odd space (no-break, thin, ideographic, tab)
  becomes a plain space, curly quotes become straight ones.

Newlines are kept: quote and signature detection work line by line.
"""

from __future__ import annotations

import bisect
import itertools
import unicodedata
from dataclasses import dataclass

import regex

# Characters that render as nothing. \p{DI} is Unicode's Default_Ignorable_Code_Point
# (ZWSP, ZWJ, ZWNJ, soft hyphen, word joiner, bidi controls, variation selectors,
# tag characters, Hangul fillers...). U+2800 (Braille blank) and U+3164/U+115F/U+1160
# render blank but are not all default-ignorable, so they are listed too.
_INVISIBLE = regex.compile(r"[\p{DI}\u2800\u3164\u115F\u1160\uFFA0\u034F]")

# Anything that is not plain printable ASCII or a newline needs a closer look.
_SPECIAL = regex.compile(r"[^\x20-\x7E\n]+")

_SPACES = {"\t", "\u00a0", "\u1680", "\u202f", "\u205f", "\u3000", "\x0b", "\x0c"} | {
    chr(c) for c in range(0x2000, 0x200B)
}
_DASHES = {
    "\u2010",
    "\u2011",
    "\u2012",
    "\u2013",
    "\u2014",
    "\u2015",
    "\u2212",
    "\ufe58",
    "\ufe63",
    "\uff0d",
    "\u2043",
}
_QUOTES = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
}


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """Normalised text plus the way back to the decoded text it came from.

    ``_starts`` and ``_origins`` are parallel lists: the normalised character
    at index ``_starts[k] + d`` comes from decoded index ``_origins[k] + d`` when
    segment k is a verbatim copy, or from ``_origins[k]`` when it was rewritten.
    """

    text: str
    source: str
    hidden_characters: int
    _starts: tuple[int, ...]
    _origins: tuple[int, ...]
    _verbatim: tuple[bool, ...]
    # Carriage returns are taken out before the rest (see ``normalize``): the
    # maps above lead into the source without them, and ``_returns[k]`` is where
    # the k-th removed one stood in that shorter text.
    _returns: tuple[int, ...] = ()

    def source_offset(self, index: int) -> int:
        """Decoded-text offset of the normalised character at ``index``."""
        offset = self._offset_without_returns(index)
        if not self._returns:
            return offset
        if index >= len(self.text) and self._verbatim and self._verbatim[-1]:
            # Just past the last character: before any carriage return after it.
            return offset + bisect.bisect_left(self._returns, offset)
        return offset + bisect.bisect_right(self._returns, offset)

    def _offset_without_returns(self, index: int) -> int:
        if not self._starts:
            return min(index, len(self.source) - len(self._returns))
        k = bisect.bisect_right(self._starts, index) - 1
        if k < 0:
            return 0
        if self._verbatim[k]:
            return self._origins[k] + (index - self._starts[k])
        return self._origins[k]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Decoded-text span covering the normalised span ``[start, end)``."""
        if end <= start:
            s = self.source_offset(start)
            return s, s
        s = self.source_offset(start)
        e = self.source_offset(end - 1)
        # The last character may have been rewritten from several decoded ones
        # (or followed by removed invisibles); extend to the next kept character.
        nxt = self.source_offset(end) if end < len(self.text) else len(self.source)
        return s, max(e + 1, min(nxt, len(self.source)) if nxt > e else e + 1)

    def source_excerpt(self, start: int, end: int) -> str:
        s, e = self.source_span(start, end)
        return self.source[s:e]


def _fold_simple(ch: str) -> str:
    if ch in _SPACES:
        return " "
    if ch in _DASHES:
        return "-"
    return _QUOTES.get(ch, ch)


def _fold(ch: str) -> str:
    if ch == "\r":
        return ""
    if ch < " " and ch != "\n":
        return " "
    simple = _fold_simple(ch)
    if simple != ch:
        return simple
    # NFKC can produce odd spaces or dashes of its own; fold its output once more.
    return "".join(_fold_simple(c) for c in unicodedata.normalize("NFKC", ch))


def normalize(source: str) -> NormalizedText:
    """Normalise ``source`` (already decoded text) in time linear in its length.

    Carriage returns render as nothing and most mail has one per line, so they
    are taken out in one pass first; then plain ASCII runs are copied in one
    slice and only the special characters are looked at one by one.
    """
    if "\r" not in source:
        return _normalize(source, source, ())
    pieces = source.split("\r")
    returns = tuple(itertools.accumulate(map(len, pieces[:-1])))
    return _normalize("".join(pieces), source, returns)


_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\n"


def _special_spans(text: str) -> list[tuple[int, int]]:
    """The spans of _SPECIAL.finditer(text).

    A regex walks every character (0.1 ms for a 10 KB letter); when every
    character fits in one byte, bytes.translate lists the special ones in C
    and bytes.find locates the few there are.
    """
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        return [m.span() for m in _SPECIAL.finditer(text)]
    specials = data.translate(None, _PLAIN_BYTES)
    if not specials:
        return []
    if len(specials) > 64:
        return [m.span() for m in _SPECIAL.finditer(text)]
    positions = []
    for byte in set(specials):
        needle = bytes((byte,))
        i = data.find(needle)
        while i >= 0:
            positions.append(i)
            i = data.find(needle, i + 1)
    positions.sort()
    spans: list[tuple[int, int]] = []
    for i in positions:
        if spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    return spans


def _normalize(text: str, source: str, returns: tuple[int, ...]) -> NormalizedText:
    out: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    verbatim: list[bool] = []
    hidden = 0
    pos_out = 0
    pos_src = 0
    for a, b in _special_spans(text):
        if a > pos_src:
            starts.append(pos_out)
            origins.append(pos_src)
            verbatim.append(True)
            out.append(text[pos_src:a])
            pos_out += a - pos_src
        for i in range(a, b):
            ch = text[i]
            if _INVISIBLE.match(ch):
                hidden += 1
                continue
            rep = _fold(ch)
            if not rep:
                continue
            starts.append(pos_out)
            origins.append(i)
            verbatim.append(rep == ch)
            out.append(rep)
            pos_out += len(rep)
        pos_src = b
    if pos_src < len(text):
        starts.append(pos_out)
        origins.append(pos_src)
        verbatim.append(True)
        out.append(text[pos_src:])
    return NormalizedText(
        text="".join(out),
        source=source,
        hidden_characters=hidden,
        _starts=tuple(starts),
        _origins=tuple(origins),
        _verbatim=tuple(verbatim),
        _returns=returns,
    )
