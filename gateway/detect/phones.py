"""Phone numbers, however they are written.

phonenumbers' own matcher is not used to find numbers: at its VALID leniency it
drops Ofcom's drama ranges (07700 900xxx) and numbers glued to letters; at
POSSIBLE it matches years and candidate numbers; it splits numbers on thin
spaces, underscores and bullets, and gives up after 65,535 failed candidates.
Instead, numbers are found here in linear time on a *digit view* of the text,
then judged by shape and context, and phonenumbers canonicalises them.

The digit view is the normalised text, same length, with:

* dates, times, prices, decimals and percentages masked (never a phone);
* letter-for-digit swaps undone inside digit-heavy tokens (``O7834 562l9O``);
* underscores, bullets and middle dots turned into spaces.

Runs of digit groups joined by phone punctuation (space, ``-``, ``.``, ``/``,
brackets, one line break) are then cut into candidate windows. Spelled-out
numbers ("oh seven seven ..., double one") are found separately.
"""

from __future__ import annotations

import phonenumbers
import regex

from gateway.detect import Candidate, DetailType, Detector, merge_spans, register, span_around
from gateway.mail import DetailKind
from gateway.read.message import Segment, Zone
from gateway.read.words import regex_words

# Never phones: masked in the digit view before anything else.
_MASKS = regex.compile(
    r"""
      \b\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})\b            # 14/03/2026, 12.03.25
    | \b\d{4}-\d{2}-\d{2}\b                                 # 2026-03-14
    | \b(?:[01]?\d|2[0-3])[:.][0-5]\d(?:[:.][0-5]\d)?\s*(?:[ap]\.?m\.?\b)?   # 15:20, 9.30am
    | \b\d{1,2}/\d{1,2}\b(?![/\d])                          # 01/06
    | [£$€]\s?\d[\d,]*(?:\.\d+)?                            # £1,234.50
    | \b\d+(?:\.\d+)?\s?%                                   # 89.4%
    | \b\d[\d,]*\.\d{1,2}\b(?![.\d])                        # 24.60, 5.21
    | \b\d{1,3}(?:,\d{3})+\b                                # 149,600
    """,
    regex.VERBOSE | regex.IGNORECASE,
)
# Tokens made of digits and letters that look like digits.
_LOOKALIKE_TOKEN = regex.compile(r"(?<![A-Za-z])[0-9OoIl|]{5,}(?![A-Za-z])")
_LOOKALIKE_GROUP = regex.compile(
    r"(?<![A-Za-z0-9])[0-9OoIl|]{2,6}(?:[ .\-][0-9OoIl|]{2,6}){1,4}(?![A-Za-z0-9])"
)
_LOOKALIKE = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})
_SEPARATORS = "_•·*‧∙"
_SEPARATOR_CHARS = str.maketrans(dict.fromkeys(_SEPARATORS, " "))

_GROUP = regex.compile(r"\+?\d+")
_GAP = regex.compile(r"[ \-./()\[\]]{0,4}\n?[ \-./()\[\]]{0,4}")

# Words that say a number is not a phone number when they come just before it.
_NOT_A_PHONE = regex.compile(
    r"""\b(?:candidate|centre|center|uci|upn|uln|urn|isbn|issn|ref|refs|reference|receipt|order|po|
        invoice|transaction|account|acct|sort\s?code|serial|asset|case|booking|code|id|nhs|cas|policy|
        membership|registration|reg|licen[cs]e|passport|insurance|ni|vat|company|charity|pin|item|
        part|model|product|batch|lot|tracking|parcel|consignment|student|pupil|learner|exam|cohort)
        (?:\s*(?:no\.?|number|num|\#|nos?\.?|id))?\s*[:\#]?\s*(?:is\s*)?[\[(]?\s*$""",
    regex.VERBOSE | regex.IGNORECASE,
)
_PHONE_WORD = regex.compile(
    r"\b(?:tel|telephone|phone|mob|mobile|cell|call|ring|text|txt|sms|whatsapp|number|landline|dial|reach|contact|m|t|h|p|direct|ext)\b",
    regex.IGNORECASE,
)
_PERSONAL = regex.compile(
    r"\b(?:me|my|mine|i'm|i\s+am|i'll|home|personal|own|private)\b|\bm(?:ob(?:ile)?)?\s*:|\bh(?:ome)?\s*:",
    regex.IGNORECASE,
)
_SPELLED = regex.compile(
    r"(?:\b(?:oh|o|zero|nought|nil|one|two|three|four|five|six|seven|eight|nine|double|triple|treble"
    r"|plus|hundred|thousand)\b[\s,;\-]*){7,}",
    regex.IGNORECASE,
)
_WORD_DIGIT = {
    "oh": "0",
    "o": "0",
    "zero": "0",
    "nought": "0",
    "nil": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}


_ANY_DIGIT = regex.compile(r"\d")


def _replace_spans(text: str, spans, change) -> str:
    pieces, last = [], 0
    for a, b in spans:
        pieces += [text[last:a], change(text[a:b])]
        last = b
    pieces.append(text[last:])
    return "".join(pieces)


def _mask_digits(piece: str) -> str:
    return "".join("#" if c.isdigit() else c for c in piece)


def digit_view(text: str) -> str:
    """The text with non-phones masked and disguised digits restored (same length)."""
    # str.translate takes a slow path on any non-ASCII text; most texts have
    # none of these characters at all.
    view = text.translate(_SEPARATOR_CHARS) if any(c in text for c in _SEPARATORS) else text
    if not _ANY_DIGIT.search(text):
        return view  # every mask and every look-alike token needs a digit
    view = _replace_spans(view, [m.span() for m in _MASKS.finditer(text)], _mask_digits)
    lookalikes = []
    for m in _LOOKALIKE_TOKEN.finditer(view):
        token = m.group(0)
        digits = sum(c.isdigit() for c in token)
        if digits >= 3 and digits / len(token) >= 0.6:
            lookalikes.append(m.span())
    # A group of short tokens, mostly digits ("07700 9OO 482"): a letter among
    # them is as much a disguise as in one long token.
    for m in _LOOKALIKE_GROUP.finditer(view):
        compact = "".join(m.group(0).split()).replace(".", "").replace("-", "")
        digits = sum(c.isdigit() for c in compact)
        if (
            digits >= 6
            and len(compact) >= 10
            and digits < len(compact)
            and digits / len(compact) >= 0.6
        ):
            lookalikes.append(m.span())
    lookalikes = merge_spans(lookalikes)
    return _replace_spans(view, lookalikes, lambda t: t.translate(_LOOKALIKE))


def _uk_national(digits: str) -> str | None:
    """'07911123456' -> '+447911123456' when the length fits a UK number."""
    if not digits.startswith("0") or digits.startswith("00"):
        return None
    nsn = digits[1:]
    if nsn[:1] in {"7", "2", "3", "8", "5"} and len(nsn) == 10:
        return "+44" + nsn
    if nsn[:1] == "1" and len(nsn) in (9, 10):
        return "+44" + nsn
    if nsn[:1] == "8" and len(nsn) in (9, 10):  # 0800 1111 style freephone lengths
        return "+44" + nsn
    return None


def canonical(number: str, region: str = "GB") -> str | None:
    """E.164 form of a number written any way, or None if it is not one."""
    digits = "".join(c for c in number if c.isdigit() or c == "+")
    if not digits:
        return None
    plus = digits.startswith("+")
    digits = digits.replace("+", "")
    if plus or digits.startswith("00"):
        if not plus:
            digits = digits[2:]
        # "+44 (0)7911..." and "+44 07911...": drop the trunk zero.
        if digits.startswith("440"):
            digits = "44" + digits[3:]
        try:
            parsed = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            return None
        if parsed.country_code == 44:
            nsn = str(parsed.national_number)
            return "+44" + nsn if _uk_national("0" + nsn) else None
        if not phonenumbers.is_possible_number(parsed):
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if region == "GB":
        return _uk_national(digits)
    try:
        parsed = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def number_type(e164: str) -> str:
    """'mobile', 'landline', 'service' (freephone, premium...) or 'other'."""
    if e164.startswith("+44"):
        first = e164[3:4]
        return {"7": "mobile", "1": "landline", "2": "landline", "3": "landline", "5": "other"}.get(
            first, "service"
        )
    try:
        t = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return "other"
    if t in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return "mobile"
    if t == phonenumbers.PhoneNumberType.FIXED_LINE:
        return "landline"
    return "other"


def _digit_blocks(text: str):
    """(offset, piece) for the pieces of ``text`` that can hold a phone number.

    Every mask, look-alike token and digit group holds a digit, and a number
    spans at most one line break, so the lines with a digit, each with one
    line of margin either side (a price's "£" may end the line above), are
    all the digit view needs to see. Pieces start and end at line breaks,
    where every boundary and look-around of the patterns sees what it sees in
    the whole text; most letters have a few such lines among hundreds.
    """
    n = len(text)
    block: list[int] | None = None
    m = _ANY_DIGIT.search(text)
    while m:
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.start())
        line_end = n if line_end < 0 else line_end
        a = text.rfind("\n", 0, line_start - 1) + 1 if line_start > 0 else 0
        b = text.find("\n", line_end + 1) if line_end < n else n
        b = n if b < 0 else b
        if block is not None and a <= block[1] + 1:
            block[1] = b
        else:
            if block is not None:
                yield block[0], text[block[0] : block[1]]
            block = [a, b]
        m = _ANY_DIGIT.search(text, line_end)
    if block is not None:
        yield block[0], text[block[0] : block[1]]


def _runs(view: str) -> list[list[tuple[int, int, str]]]:
    """Digit groups chained by phone punctuation: [[(start, end, group), ...], ...]."""
    runs: list[list[tuple[int, int, str]]] = []
    current: list[tuple[int, int, str]] = []
    for m in _GROUP.finditer(view):
        if current:
            gap = view[current[-1][1] : m.start()]
            if not _GAP.fullmatch(gap) or m.group(0).startswith("+"):
                runs.append(current)
                current = []
        current.append((m.start(), m.end(), m.group(0)))
    if current:
        runs.append(current)
    return runs


def _drop_trunk_zero(run: list[tuple[int, int, str]], view: str) -> list[tuple[int, int, str]]:
    """'+44 (0)7911 ...' : the bracketed trunk zero is not part of the number."""
    out: list[tuple[int, int, str]] = []
    for k, g in enumerate(run):
        if (
            g[2] == "0"
            and k > 0
            and out
            and out[-1][2].lstrip("+").lstrip("0") in {"44"}
            and view[g[0] - 1 : g[0]] == "("
        ):
            continue
        out.append(g)
    return out


def _context(text: str, start: int, end: int) -> tuple[str, str]:
    line_start = text.rfind("\n", 0, start) + 1
    before = text[max(line_start, start - 48) : start]
    line_end = text.find("\n", end)
    after = text[end : (line_end if line_end >= 0 else len(text))][:40]
    return before, after


_PERSONAL_LABEL = regex.compile(
    r"\b(?:m|mob|mobile|cell|home|h|personal)\b\s*[:.]?\s*$", regex.IGNORECASE
)
_MY = regex.compile(r"\bmy\b", regex.IGNORECASE)
_SENTENCE_BREAK = regex.compile(r"[.!?](?=\s)|\n\s*\n")


def _sentence(text: str, start: int, end: int) -> str:
    a, b = span_around(text, start, end, _SENTENCE_BREAK, 300)
    return text[a:b]


def _judge(seg: Segment, e164: str, start: int, end: int, *, link: bool) -> Candidate | None:
    text = seg.text.text
    before, after = _context(text, start, end)
    if not link and _NOT_A_PHONE.search(before) and not _PHONE_WORD.search(before[-16:]):
        return None
    kind = number_type(e164)
    if link or kind == "mobile":
        return Candidate(
            "phone", e164, seg, start, end, True, "mobile" if kind == "mobile" else "linked number"
        )
    zone = seg.zone_at(start).zone
    sentence = _sentence(text, start, end)
    personal = bool(_PERSONAL.search(sentence))
    label = before[-12:]
    if zone == Zone.SIGNATURE and _PERSONAL_LABEL.search(label):
        personal = True
    if kind == "service":
        personal = personal and bool(_MY.search(sentence))
    return Candidate(
        "phone",
        e164,
        seg,
        start,
        end,
        personal,
        f"{kind}{' with personal context' if personal else ''}",
    )


def _windows(run: list[tuple[int, int, str]], region: str) -> list[tuple[int, int, str]]:
    """Phone-shaped windows of consecutive groups: (start, end, e164)."""
    found: list[tuple[int, int, str]] = []
    n = len(run)
    i = 0
    while i < n:
        best = None
        total = 0
        for j in range(i, min(n, i + 12)):
            total += len(run[j][2].lstrip("+"))
            if total > 15:
                break
            first = run[i][2]
            if not (first.startswith("+") or first.startswith("0")):
                break
            digits = "".join(g[2] for g in run[i : j + 1])
            if total < 9:
                continue
            e164 = canonical(digits, region)
            if not e164:
                continue
            whole = i == 0 and j == n - 1
            # Inside a longer run of groups, only accept the usual phone groupings,
            # so reference numbers and tables do not yield phones.
            if not whole and not (len(first.lstrip("+")) >= 2 and (j - i) <= 3):
                continue
            best = (run[i][0], run[j][1], e164)
        if best:
            found.append(best)
            # continue after this window
            while i < n and run[i][1] <= best[1]:
                i += 1
        else:
            i += 1
    return found


_NUMBER_WORDS = frozenset(
    w.encode() for w in (*_WORD_DIGIT, "double", "triple", "treble", "plus", "hundred", "thousand")
)
_NUMBER_WORDS_TEXT = frozenset(w.decode() for w in _NUMBER_WORDS)


def _may_spell_number(toks: list[bytes]) -> bool:
    """Could _SPELLED match? Only where seven number words follow one another.

    The words are ``gateway.read.words`` tokens (split at every ASCII non-word
    character, so more tokens follow one another than _SPELLED's separators
    allow: the test errs towards yes). A token with non-ASCII characters is
    split again the way the regex module sees words, and any non-ASCII word
    counts as a number word, since case-insensitive matching folds some
    (long s, Kelvin sign) into ASCII letters.
    """
    # bytes(map(...)) keeps the per-token work in C: one flag byte per token.
    flags = bytes(map(_NUMBER_WORDS.__contains__, toks))
    ascii_tokens = bytes(map(bytes.isascii, toks))
    if 0 in ascii_tokens:
        pieces, last = [], 0
        i = ascii_tokens.find(0)
        while i >= 0:
            pieces += [flags[last:i], _word_flags(toks[i])]
            last = i + 1
            i = ascii_tokens.find(0, last)
        flags = b"".join([*pieces, flags[last:]])
    return b"\x01" * 7 in flags


def _may_spell_number_in(seg: Segment) -> bool:
    """``_may_spell_number`` for a segment, from the words it has already found.

    Most texts hold a few number words, or none: rather than flag every
    token, find each present number word's occurrences as whole tokens in the
    spaced text and look for seven that only spaces separate. A non-ASCII
    token that could hide a number word (or a non-ASCII space) sends the
    text to the token-by-token test instead.
    """
    if any(not t.isascii() and _hides_number_words(t) for t in seg.distinct_tokens):
        return _may_spell_number(seg.spaced.split())
    present = _NUMBER_WORDS_TEXT.intersection(seg.words)
    if not present:
        return False
    padded = b" " + seg.spaced + b" "
    spans: list[tuple[int, int]] = []
    for word in present:
        needle = f" {word} ".encode()
        i = padded.find(needle)
        while i >= 0:
            spans.append((i + 1, i + len(needle) - 1))
            i = padded.find(needle, i + len(needle) - 1)  # the next may share this space
    if len(spans) < 7:
        return False
    spans.sort()
    run = 1
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        run = run + 1 if padded.count(b" ", end, start) == start - end else 1
        if run >= 7:
            return True
    return False


def _word_flags(token: bytes) -> bytes:
    """A non-ASCII token's words, one flag byte each: 1 where it may be a number word."""
    return bytes(not w.isascii() or w.lower().encode() in _NUMBER_WORDS for w in regex_words(token))


def _hides_number_words(token: bytes) -> bool:
    """Does this non-ASCII token hold a word that may be a number word, or no word at all?"""
    flags = _word_flags(token)
    return not flags or 1 in flags


_TENS_OF = {"hundred": "00", "thousand": "000"}


# Half in digits, half in words: "07700 nine-double-oh 344".
_MIXED = regex.compile(
    r"(?<![\w+])(?:(?:\d{1,5}|(?:oh|zero|nought|one|two|three|four|five|six|seven|eight|nine|double"
    r"|triple|treble|hundred|thousand)\b)[\s,;\-]*){3,}",
    regex.IGNORECASE,
)
_DIGITS_OR_LETTERS = regex.compile(r"\d+|[a-z]+")
_A_DIGIT = regex.compile(r"\d")
_A_LETTER = regex.compile(r"[a-z]", regex.IGNORECASE)
_MIXED_WORDS = frozenset(_NUMBER_WORDS_TEXT - {"o", "nil", "plus"})


def _spelled(seg: Segment, region: str) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    text = seg.text.text
    spelled = _may_spell_number_in(seg)
    mixed = bool(_MIXED_WORDS.intersection(seg.words)) and _A_DIGIT.search(text) is not None
    if not (spelled or mixed):
        return out
    matches = [
        *(_SPELLED.finditer(text) if spelled else ()),
        *(_MIXED.finditer(text) if mixed else ()),
    ]
    for m in matches:
        if m.re is _MIXED and not (_A_DIGIT.search(m.group(0)) and _A_LETTER.search(m.group(0))):
            continue  # all digits: the digit reader's; all words: the spelled reader's
        digits: list[str] = []
        repeat = 1
        for word in _DIGITS_OR_LETTERS.findall(m.group(0).lower()):
            if word.isdigit():
                digits.append(word)
                repeat = 1
                continue
            if word in {"double"}:
                repeat = 2
            elif word in {"triple", "treble"}:
                repeat = 3
            elif word == "plus":
                digits.append("+")
            elif word in _TENS_OF and digits:  # "nine hundred" is 900
                digits.append(_TENS_OF[word])
            elif word in _WORD_DIGIT:
                digits.append(_WORD_DIGIT[word] * repeat)
                repeat = 1
        number = "".join(digits)
        if region == "GB" and len(number) == 10 and number.startswith("7"):
            number = "0" + number  # "seven seven double oh ...": the 0 goes without saying
        e164 = canonical(number, region)
        if e164 and len(number.replace("+", "")) >= 10:
            out.append((m.start(), m.end(), e164))
    return out


_WA_ME = regex.compile(r"wa\.me/\+?(\d{6,15})", regex.IGNORECASE)
_LINK_PHONE = regex.compile(
    r"^(?:tel|sms|callto|facetime|facetime-audio|whatsapp|viber)[:/]+(?P<n>[+\d][\d\s().\-%20]*)"
    r"|wa\.me/(?P<w>\+?\d{6,15})"
    r"|whatsapp\.com/send/?\?(?:.*&)?phone=(?P<q>\+?\d{6,15})",
    regex.IGNORECASE,
)


def find_phones(seg: Segment, region: str = "GB") -> list[Candidate]:
    text = seg.text.text
    found: list[Candidate] = []
    if seg.is_link:
        m = _LINK_PHONE.search(text)
        if m:
            raw = (m.group("n") or "").replace("%20", "") or (
                "+" + (m.group("w") or m.group("q")).lstrip("+")
            )
            e164 = canonical(raw, region) or canonical("+" + raw.lstrip("+"), region)
            if e164:
                c = _judge(seg, e164, m.start(), m.end(), link=True)
                if c:
                    found.append(c)
        return found
    for base, block in _digit_blocks(text):
        view = digit_view(block)
        for run in _runs(view):
            run = _drop_trunk_zero(run, view)
            for start, end, e164 in _windows(run, region):
                c = _judge(seg, e164, base + start, base + end, link=False)
                if c:
                    found.append(c)
    # wa.me/4479... written in running text
    for m in _WA_ME.finditer(text):
        e164 = canonical("+" + m.group(1), region)
        if e164 and not any(c.start <= m.start(1) < c.end for c in found):
            found.append(Candidate("phone", e164, seg, m.start(1), m.end(1), True, "wa.me link"))
    for start, end, e164 in _spelled(seg, region):
        if not any(c.start < end and start < c.end for c in found):
            c = _judge(seg, e164, start, end, link=False)
            if c:
                found.append(
                    Candidate(
                        c.detector, c.value, seg, start, end, c.personal, c.note + ", spelled out"
                    )
                )
    return found


register(
    lambda segment, context: find_phones(segment, context.region),
    Detector("phone", approved_as=DetailKind.PHONE),
    details=(DetailType(DetailKind.PHONE, canonical=canonical, same=str.__eq__),),
)
