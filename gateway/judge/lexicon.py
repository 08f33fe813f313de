"""Every lexicon word of every list, found in one pass over a text.

The rules name lists of hundreds of words ({act_invite}, {frame_advice}...);
a regex per list per text made the scan cost grow with the lexicon. An
Aho-Corasick automaton (pyahocorasick, C) over all the words of all the lists
finds every occurrence of every word in one pass, whatever the lexicon's size.

A word matches as the list's regex would, ``\\b(?:word)(?![\\w'])`` without
regard to case, a space in it matching any run of whitespace: the text is
lower-cased and its whitespace runs collapsed to one space for the search, and
each hit is mapped back to the text's own offsets. Unlike one regex pass, hits
may overlap ("come round" and "round mine" in "come round mine"), which only
answers "is one of these words here?" more fully.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence

import ahocorasick
import regex

_SPACE_RUN = regex.compile(r"\s+")
# The runs that collapsing changes: a single plain space stays as it is, which is
# most of the gaps between words, so only line breaks and wider gaps are mapped.
# The regex module's \s spelled out for the standard library's engine, which
# walks a letter's text twice as fast (a test checks the two agree).
REGEX_SPACE = "\t\n\x0b\x0c\r\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WIDE_SPACE = re.compile(f"[ {REGEX_SPACE}]{{2,}}|[{REGEX_SPACE}]")


def _collapse(word: str) -> str:
    return _SPACE_RUN.sub(" ", word.strip().lower())


class Lexicon:
    def __init__(self, lists: Mapping[str, Sequence[str]]) -> None:
        names: dict[str, set[str]] = {}
        for name, words in lists.items():
            for w in words:
                if key := _collapse(w):
                    names.setdefault(key, set()).add(name)
        self._automaton: ahocorasick.Automaton | None = None
        if names:
            a = ahocorasick.Automaton()
            for key, in_lists in names.items():
                a.add_word(key, (len(key), tuple(sorted(in_lists))))
            a.make_automaton()
            self._automaton = a

    def find(self, text: str) -> dict[str, list[tuple[int, int]]] | None:
        """Per list, the (start, end) of each of its words in ``text``, in order;
        None when the text cannot be searched this way (lower-casing changes its
        length), so the caller uses the lists' regexes instead."""
        found: dict[str, list[tuple[int, int]]] = {}
        if self._automaton is None:
            return found
        lowered = text.lower()
        if len(lowered) != len(text):
            return None
        # The collapsed text, and where each of its runs of whitespace came from.
        starts: list[int] = []  # offset in the collapsed text where a collapsed run begins
        shifts: list[int] = []  # characters removed before the collapsed position after it
        pieces: list[str] = []
        last = removed = 0
        for m in _WIDE_SPACE.finditer(lowered):
            pieces.append(lowered[last : m.start()])
            pieces.append(" ")
            collapsed_at = m.start() - removed
            removed += len(m.group(0)) - 1
            starts.append(collapsed_at + 1)
            shifts.append(removed)
            last = m.end()
        pieces.append(lowered[last:])
        haystack = "".join(pieces)

        def original(pos: int) -> int:  # a collapsed offset in text's offsets
            i = bisect.bisect_right(starts, pos) - 1
            return pos + (shifts[i] if i >= 0 else 0)

        for end_index, (length, in_lists) in self._automaton.iter(haystack):
            s, e = end_index - length + 1, end_index + 1
            before = haystack[s - 1] if s > 0 else " "
            after = haystack[e] if e < len(haystack) else " "
            # \b at the start: the first character's wordness differs from the one before.
            if (before.isalnum() or before == "_") == (haystack[s].isalnum() or haystack[s] == "_"):
                continue
            if after.isalnum() or after in "_'":
                continue
            span = (original(s), original(e - 1) + 1)
            for name in in_lists:
                found.setdefault(name, []).append(span)
        for spans in found.values():
            spans.sort()
        return found
