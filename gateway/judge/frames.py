"""Frames wider than a sentence: words that are someone else's.

Two shapes of text put words in another person's mouth, whatever the words:

* a **script**: lines headed by a speaker in capitals ("DANNY: Text me when
  your mum's gone to bed."), three or more of them in one text, or a chat log
  ("22:31 unknown: can u send me ur number?"). A character's line, and any
  number in it, is the character's, not the sender's.
* a **quoted example**: words in quotation marks after an introduction such
  as "messages like", "groomers might say", "warning signs" (the lexicon list
  ``frame_quoting``) up to a few hundred characters before them. An e-safety
  letter that quotes "Add me on Snapchat" is warning about it.

Words in quotation marks without such an introduction still count: a sender
can quote their own cover story ('just say "I was in the library"').
"""

from __future__ import annotations

from collections import Counter
from itertools import islice

import regex

# "DANNY:", "MRS PATEL (off):", "KAYLA (15):", "'CHRIS':" at the start of a line.
_SPEAKER = regex.compile(
    r"(?m)^[ \t]*['\"‘“]?[A-Z][A-Z.'\- ]{1,30}['\"’”]?(?:[ \t]*\([^)\n]{0,30}\))?[ \t]*:[ \t]"
)
_SCRIPT_LINES = 3
# A chat log: "22:14 unknown: hey", "[9.02pm] Jake: u there?" at the start of a line.
_CHAT_LINE = regex.compile(
    r"(?m)^[ \t]*\[?\d{1,2}[:.]\d\d(?:[ ]?[ap]m)?\]?[ \t]*[-–]?[ \t]*[^\s:\[\]][^:\n]{0,29}:[ \t]",
    regex.IGNORECASE,
)
# Spans in quotation marks: curly, straight double and guillemets within one
# paragraph (a quoted message wraps over lines), and on one line single quotes
# whose inner apostrophes are followed by a letter ("don't").
_QUOTED = regex.compile(
    r"“(?:[^”\n]|\n(?![ \t]*\n)){1,600}”|\"(?:[^\"\n]|\n(?![ \t]*\n)){1,600}\""
    r"|«(?:[^»\n]|\n(?![ \t]*\n)){1,600}»|‘(?:[^’\n]|’(?=\w)){1,400}’"
    r"|(?<!\w)'(?:[^'\n]|'(?=\w)){1,400}'(?!\w)"
)
_PARAGRAPH_BREAK = regex.compile(r"\n[ \t]*\n")
_LOOK_BACK = 600  # how far before a quotation its introduction may be
_QUOTE_REACH = 620  # how far a quotation around a match may reach: its longest
# Where a sentence ends (a list item starts one too), and a paragraph.
SENTENCE_END = regex.compile(r"[.!?]+(?=\s)|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
PARAGRAPH_END = regex.compile(r"\n\s*\n")


# "Danny:", "Mrs Patel:", "Kayla (15):" - a name in title case, which is also how
# a form labels its fields ("Mobile:", "Note:"): these count only as a dialogue.
_TITLE_SPEAKER = regex.compile(
    r"(?m)^[ \t]*((?:Mr|Mrs|Ms|Miss|Dr)?\.?[ ]?[A-Z][a-z]{1,15}(?:[ ][A-Z][a-z]{1,15})?)"
    r"(?:[ \t]*\([^)\n]{0,30}\))?[ \t]*:[ \t]"
)

# What forms, cards and letters label their lines with: never a speaker.
_FIELD_LABELS = frozenset(
    [
        "name",
        "tel",
        "telephone",
        "phone",
        "mobile",
        "mob",
        "cell",
        "email",
        "address",
        "home",
        "work",
        "office",
        "fax",
        "web",
        "website",
        "contact",
        "note",
        "notes",
        "ps",
        "re",
        "ref",
        "subject",
        "from",
        "to",
        "sent",
        "cc",
        "bcc",
        "date",
        "time",
        "when",
        "where",
        "venue",
        "place",
        "location",
        "cost",
        "price",
        "total",
        "deadline",
        "homework",
        "task",
        "class",
        "year",
        "form",
        "room",
        "teacher",
        "pupil",
        "student",
        "parent",
        "carer",
        "child",
        "age",
        "dob",
        "question",
        "answer",
        "q",
        "a",
        "username",
        "handle",
        "instagram",
        "snapchat",
        "whatsapp",
        "facebook",
        "twitter",
        "tiktok",
        "discord",
        "skype",
        "zoom",
        "teams",
        "pickup",
        "collection",
        "reason",
        "details",
    ]
)


def script_line(text: str, pos: int) -> bool:
    """Whether ``pos`` is on a speaker's line of a script: three lines or more
    given to speakers in capitals, or a dialogue of speakers in title case (two
    of them at least, one speaking twice; field labels are said once each), or
    a chat log of three lines or more, each stamped with a time and a name."""
    a = text.rfind("\n", 0, pos) + 1
    # Bounded to the line: unbounded, the engine first looks for the ":" it
    # needs through the rest of the text, on every call.
    line_end = min(len(text), a + 80)
    if _CHAT_LINE.match(text, a, line_end):
        return sum(1 for _ in islice(_CHAT_LINE.finditer(text), _SCRIPT_LINES)) >= _SCRIPT_LINES
    if _SPEAKER.match(text, a, line_end):
        return sum(1 for _ in islice(_SPEAKER.finditer(text), _SCRIPT_LINES)) >= _SCRIPT_LINES
    if not (own := _TITLE_SPEAKER.match(text, a, line_end)):
        return False
    if own.group(1).casefold() in _FIELD_LABELS:
        return False
    lines = Counter(
        m.group(1)
        for m in islice(_TITLE_SPEAKER.finditer(text), 200)
        if m.group(1).casefold() not in _FIELD_LABELS
    )
    return (
        lines[own.group(1)] > 0
        and sum(lines.values()) >= _SCRIPT_LINES
        and len(lines) >= 2
        and max(lines.values()) >= 2
    )


def quotation_around(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of the quotation in its paragraph holding ``[start, end)``, or None."""
    reach = max(0, start - _QUOTE_REACH)
    a = max((m.end() for m in _PARAGRAPH_BREAK.finditer(text, reach, start)), default=reach)
    after = _PARAGRAPH_BREAK.search(text, end, end + _QUOTE_REACH)
    b = after.start() if after else min(len(text), end + _QUOTE_REACH)
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


_LIST_ITEM = regex.compile(r"[ \t]*(?:[-*\u2022]|\d+[.)])\s")


def with_list_lead(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """A sentence that is a list item, widened back to the line that introduces the
    list ("Someone trying to groom you will often:"): the items finish its sentence,
    so its frame is theirs. Any other sentence is returned as it is."""
    a, b = span
    line_a = text.rfind("\n", 0, a) + 1
    if not _LIST_ITEM.match(text, line_a) or text[line_a:a].strip(" \t-*\u2022.)0123456789"):
        return span
    # Up over the items above (a few, each a line), to a line ending in a colon.
    cursor = line_a
    for _ in range(12):
        if cursor == 0:
            return span
        prev_a = text.rfind("\n", 0, cursor - 1) + 1
        line = text[prev_a : cursor - 1]
        if line.rstrip().endswith(":"):
            return prev_a, b
        # A blank line may part the introduction from its items (HTML renders one).
        if line.strip() and not _LIST_ITEM.match(line):
            return span
        cursor = prev_a
    return span


# Words that turn a sentence away from what follows, or only refer back to it: a
# frame after them is what the sender moves off ("less formal than school email")
# or an occasion now past ("further to parents' evening, I do private tutoring").
_CONTRAST = regex.compile(
    r"\b(?:than|rather than|instead of|away from|off|out of|other than|outside of|outside"
    # "..., NOT the trip phone": a "not" after a mark that opens its own clause ("you are not
    # the intended recipient" turns from nothing)
    r"|(?<=[^\w\s]\s{0,3})(?:not|never)"
    r"|not the one (?:on|in|from|at)|not the one we have (?:on|in)|not (?:via|through)"
    r"|further to|following on from|following|as discussed at|as we discussed at|after|since)"
    r"\s+(?:the |our |my |your |a |this |last |today's |yesterday's )?$",
    regex.IGNORECASE,
)


# ...and words after a frame that leave it behind: "Teams is a bit public for
# this", "Teams keeps kicking people out".
_LEFT_BEHIND = regex.compile(
    r"\s*(?:'s|is|are|isn't|keeps|kept|won't|just|has been|was)\s+(?:a bit |a little |too |so |really |rather |bit |always |still )?"
    r"(?:formal|public|official|stuffy|clunky|slow|glitchy|rubbish|awkward|monitored|kicking|crashing"
    r"|dropping|playing up|not working|down|cutting out|freezing|logging)",
    regex.IGNORECASE,
)


# "Rather than" and "instead of" turn from what follows them a few words on too:
# "rather than Kai getting the minibus, I'll take him in my car".
_REPLACED = regex.compile(r"\b(?:rather than|instead of)(?:\s+[\w'’-]+){0,6}\s+$", regex.IGNORECASE)


def frame_set_aside(text: str, start: int, end: int, lo: int, hi: int) -> bool:
    """Whether the frame word at ``[start, end)``, in the sentence or paragraph
    ``[lo, hi)``, is one the words around it turn from, leave behind or only refer
    back to: then it makes nothing safe."""
    return bool(
        _CONTRAST.search(text, max(lo, start - 40), start)
        or _REPLACED.search(text, max(lo, start - 60), start)
        or _LEFT_BEHIND.match(text, end, min(hi, end + 60))
    )
