"""Frames wider than a sentence: words that are someone else's.

Two shapes of text put words in another person's mouth, whatever the words:

* a **script**: lines headed by a speaker in capitals ("DANNY: Text me when
  your mum's gone to bed."), three or more of them in one text. A character's
  line, and any number in it, is the character's, not the sender's.
* a **quoted example**: words in quotation marks after an introduction such
  as "messages like", "groomers might say", "warning signs" (the lexicon list
  ``frame_quoting``) up to a few hundred characters before them. An e-safety
  letter that quotes "Add me on Snapchat" is warning about it.

Words in quotation marks without such an introduction still count: a sender
can quote their own cover story ('just say "I was in the library"').
"""

from __future__ import annotations

from itertools import islice

import regex

# "DANNY:", "MRS PATEL (off):", "KAYLA (15):" at the start of a line.
_SPEAKER = regex.compile(r"(?m)^[ \t]*[A-Z][A-Z.'\- ]{1,30}(?:[ \t]*\([^)\n]{0,30}\))?[ \t]*:[ \t]")
_SCRIPT_LINES = 3
# Spans in quotation marks on one line: curly, straight double, guillemets, and
# single quotes whose inner apostrophes are followed by a letter ("don't").
_QUOTED = regex.compile(
    r"“[^”\n]{1,400}”|\"[^\"\n]{1,400}\"|«[^»\n]{1,400}»|‘(?:[^’\n]|’(?=\w)){1,400}’"
    r"|(?<!\w)'(?:[^'\n]|'(?=\w)){1,400}'(?!\w)"
)
_LOOK_BACK = 600  # how far before a quotation its introduction may be
# Where a sentence ends (a list item starts one too), and a paragraph.
SENTENCE_END = regex.compile(r"[.!?]+(?=\s)|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
PARAGRAPH_END = regex.compile(r"\n\s*\n")


def script_line(text: str, pos: int) -> bool:
    """Whether ``pos`` is on a speaker's line of a script."""
    a = text.rfind("\n", 0, pos) + 1
    # Bounded to the line: unbounded, the engine first looks for the ":" it
    # needs through the rest of the text, on every call.
    if not _SPEAKER.match(text, a, min(len(text), a + 80)):
        return False
    return sum(1 for _ in islice(_SPEAKER.finditer(text), _SCRIPT_LINES)) >= _SCRIPT_LINES


def quotation_around(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of the quotation on its line holding ``[start, end)``, or None."""
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    b = len(text) if b < 0 else b
    return next(
        (q.span() for q in _QUOTED.finditer(text, a, b) if q.start() <= start and end <= q.end()),
        None,
    )


def example_quotation(
    text: str, start: int, end: int, introduction: regex.Pattern | None
) -> tuple[str, tuple[int, int]] | None:
    """The introduction that makes ``[start, end)`` a quoted example, and the
    quotation's span; None if it is not one."""
    if introduction is None or (quote := quotation_around(text, start, end)) is None:
        return None
    b = text.find("\n", end)
    b = len(text) if b < 0 else b
    # The introduction comes before the quotations (a list of them may run on).
    m = introduction.search(text, max(0, start - _LOOK_BACK), b)
    return (m.group(0).lower(), quote) if m else None


def quoted_example(
    text: str, start: int, end: int, introduction: regex.Pattern | None
) -> str | None:
    """The introduction that makes ``[start, end)`` a quoted example, or None."""
    found = example_quotation(text, start, end, introduction)
    return found[0] if found else None
