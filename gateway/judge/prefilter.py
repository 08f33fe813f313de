"""Which words a phrase pattern cannot match without: a cheap test before the regex runs.

Phrase rules are the scanner's hot path: sixteen case-insensitive regexes
over every parent- or student-bound text. Most ordinary letters contain
none of the words those patterns are built from, so each pattern is read
once, at load, into a boolean formula over whole words ("whatsapp" or
"snap" ..., and "me"), and a rule's regex runs only when the message's set
of words satisfies the formula of one of its patterns.

The formula must never say "cannot match" when the regex could match, so it
is built conservatively:

* only literal text the pattern requires is used: optional parts, repeats
  that may be empty, character classes and anything unrecognised add nothing;
* a literal counts as a whole word only where the pattern itself puts a word
  boundary (``\\b``, whitespace, punctuation, a ``(?![\\w'])`` look-ahead) on
  both sides of it; a piece with an open side is left out;
* the message's words are ``\\w+`` runs of the casefolded text, the same
  split the pattern's boundaries make; a literal that is not ASCII is left out;
* a pattern the stdlib parser cannot read gives no formula: its rule always runs.

``tests/test_prefilter.py`` checks the formulas against the regexes on the
dev corpus and on generated text.
"""

from __future__ import annotations

import functools
import re
import typing
import warnings
from dataclasses import dataclass

from gateway.read.words import tokens, words_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as C  # noqa: N812
    import sre_parse

_WORD = re.compile(r"\w+")
_NON_WORD_CATEGORIES = {C.CATEGORY_SPACE, C.CATEGORY_NOT_WORD, C.CATEGORY_LINEBREAK}
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", C.MAX_REPEAT)}


@dataclass(frozen=True, slots=True)
class Words:
    """All of ``each`` must be satisfied (an AND); each item is a word or an Any."""

    each: tuple[object, ...]

    def satisfied_by(self, words: frozenset[str] | set[str]) -> bool:
        return all(_ok(item, words) for item in self.each)


@dataclass(frozen=True, slots=True)
class Any:
    """One of ``options`` must be satisfied (an OR)."""

    options: tuple[object, ...]


def _ok(item: object, words: frozenset[str] | set[str]) -> bool:
    if isinstance(item, str):
        return item in words
    if isinstance(item, Words):
        return item.satisfied_by(words)
    assert isinstance(item, Any)
    return any(_ok(o, words) for o in item.options)


ALWAYS = Words(())


def message_words(text: str) -> frozenset[str]:
    """``\\w+`` runs of the casefolded text (found by ``gateway.read.words``)."""
    return frozenset(words_of(tokens(text)))


def _is_word_char(ch: str) -> bool:
    return bool(_WORD.fullmatch(ch))


def _class_is_non_word(items: list) -> bool:
    for op, av in items:
        if op is C.CATEGORY and av in _NON_WORD_CATEGORIES:
            continue
        if op is C.LITERAL and not _is_word_char(chr(av)):
            continue
        return False
    return bool(items)


def _ends_bounded(items: list, idx: int, before: bool) -> bool:
    """Is there a word boundary right after items[idx] (looking back over zero-width items)?"""
    if idx < 0:
        return before
    op, av = items[idx]
    if op is C.AT:
        return av in (C.AT_BOUNDARY, C.AT_BEGINNING, C.AT_BEGINNING_STRING, C.AT_BEGINNING_LINE)
    if op is C.LITERAL:
        return not _is_word_char(chr(av))
    if op is C.IN:
        return _class_is_non_word(av)
    if op in _REPEATS:
        lo, _, body = av
        body = list(body)
        inner = _ends_bounded(body, len(body) - 1, False)
        return inner if lo >= 1 else inner and _ends_bounded(items, idx - 1, before)
    if op is C.SUBPATTERN:
        body = list(av[3])
        return _ends_bounded(body, len(body) - 1, _ends_bounded(items, idx - 1, before))
    if op is C.BRANCH:
        prev = _ends_bounded(items, idx - 1, before)
        return all(_ends_bounded(list(alt), len(alt) - 1, prev) for alt in av[1])
    if op in (C.ASSERT, C.ASSERT_NOT):
        return _ends_bounded(items, idx - 1, before)
    return False


def _starts_bounded(items: list, idx: int, after: bool) -> bool:
    """Is there a word boundary right before items[idx] (looking ahead over zero-width items)?"""
    if idx >= len(items):
        return after
    op, av = items[idx]
    if op is C.AT:
        return av in (C.AT_BOUNDARY, C.AT_END, C.AT_END_STRING, C.AT_END_LINE)
    if op is C.LITERAL:
        return not _is_word_char(chr(av))
    if op is C.IN:
        return _class_is_non_word(av)
    if op in _REPEATS:
        lo, _, body = av
        inner = _starts_bounded(list(body), 0, False)
        return inner if lo >= 1 else inner and _starts_bounded(items, idx + 1, after)
    if op is C.SUBPATTERN:
        return _starts_bounded(list(av[3]), 0, _starts_bounded(items, idx + 1, after))
    if op is C.BRANCH:
        nxt = _starts_bounded(items, idx + 1, after)
        return all(_starts_bounded(list(alt), 0, nxt) for alt in av[1])
    if op is C.ASSERT_NOT:
        direction, body = av
        body = list(body)
        # (?![\w...]) : the next character is not a word character.
        if (
            direction == 1
            and len(body) == 1
            and body[0][0] is C.IN
            and any(op2 is C.CATEGORY and av2 == C.CATEGORY_WORD for op2, av2 in body[0][1])
        ):
            return True
        return _starts_bounded(items, idx + 1, after)
    if op is C.ASSERT:
        return _starts_bounded(items, idx + 1, after)
    return False


def _run_words(run: str, left: bool, right: bool) -> list[str]:
    """Whole words a literal run guarantees, given what bounds it on each side."""
    pieces = re.split(r"(\W+)", run.casefold())
    out = []
    for i in range(0, len(pieces), 2):
        piece = pieces[i]
        if not piece or not piece.isascii():
            continue
        left_ok = left if i == 0 else True  # preceded by a non-word piece inside the run
        right_ok = right if i == len(pieces) - 1 else True
        if left_ok and right_ok:
            out.append(piece)
    return out


def _branch_of(op: object, av: typing.Any) -> list | None:
    """The alternatives of a BRANCH, or of a group that is only a BRANCH."""
    if op is C.BRANCH:
        return [list(alt) for alt in av[1]]
    if op is C.SUBPATTERN and len(av[3]) == 1 and av[3][0][0] is C.BRANCH:
        return [list(alt) for alt in av[3][0][1][1]]
    return None


def _needs(items: list, before: bool, after: bool) -> Words:
    parts: list[object] = []
    run = ""
    run_left = False
    for idx, (op, av) in enumerate(items):
        if op is C.LITERAL:
            if not run:
                run_left = _ends_bounded(items, idx - 1, before)
            run += chr(av)
            continue
        right = _starts_bounded(items, idx + 1, after)
        alternatives = _branch_of(op, av)
        if run and alternatives is not None:
            # The parser factors a shared prefix out of "lift|lifts" into
            # "lift" + ("" | "s"): put it back into each alternative, so each
            # is a whole word again.
            prefix = [(C.LITERAL, ord(ch)) for ch in run]
            parts.append(Any(tuple(_needs(prefix + alt, run_left, right) for alt in alternatives)))
            run = ""
            continue
        if run:
            parts.extend(_run_words(run, run_left, _starts_bounded(items, idx, after)))
            run = ""
        left = _ends_bounded(items, idx - 1, before)
        if op is C.SUBPATTERN:
            parts.append(_needs(list(av[3]), left, right))
        elif op is C.BRANCH:
            parts.append(Any(tuple(_needs(list(alt), left, right) for alt in av[1])))
        elif op in _REPEATS and av[0] >= 1:
            parts.append(_needs(list(av[2]), left, False))
    if run:
        parts.extend(_run_words(run, run_left, after))
    return Words(tuple(_simplify(p) for p in parts if _simplify(p) != ALWAYS))


def _simplify(item: object) -> object:
    if isinstance(item, Any):
        options = tuple(_simplify(o) for o in item.options)
        return ALWAYS if any(o == ALWAYS for o in options) else Any(options)
    if isinstance(item, Words):
        each = tuple(s for s in (_simplify(e) for e in item.each) if s != ALWAYS)
        return each[0] if len(each) == 1 else Words(each)
    return item


def needed_words(pattern: str) -> object:
    """The formula a message's words must satisfy for ``pattern`` to match; ALWAYS if unknown."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except Exception:  # noqa: BLE001 - regex-only syntax: no prefilter, the rule always runs
        return ALWAYS
    return _simplify(_needs(list(parsed), True, True))  # type: ignore[call-overload]  # SubPattern is a sequence


def list_needs(entries: list[str] | tuple[str, ...]) -> object:
    """The formula of a pattern that is one list of literal words ("{frame_advice}"),
    without parsing its regex: one of the entries, each needing all its words.
    An entry with a non-ASCII letter gives no formula (as ``needed_words`` would)."""
    options = []
    for entry in entries:
        if not entry.isascii():
            return ALWAYS
        each = tuple(_WORD.findall(entry.lower()))
        if not each:
            return ALWAYS
        options.append(each[0] if len(each) == 1 else Words(each))
    return Any(tuple(options)) if options else Words((Any(()),))


def could_match(formula: object, words: frozenset[str]) -> bool:
    return formula == ALWAYS or _ok(formula, words)


def _source(item: object, sets: list[frozenset[str]]) -> str:
    """``item`` as a Python expression over the words ``w``. Plain words become set
    tests against ``sets`` (``s0``, ``s1`` ...): a choice of words is one
    ``isdisjoint``, a phrase's words one ``<=``. A lexicon of hundreds of entries
    is then a few hundred names to compile and C calls to run, not thousands of
    ``in`` and ``or``."""
    if isinstance(item, str):
        return f"({item!r} in w)"
    if isinstance(item, Words):
        if len(item.each) > 1 and all(isinstance(e, str) for e in item.each):
            sets.append(frozenset(typing.cast(tuple[str, ...], item.each)))
            return f"(s{len(sets) - 1} <= w)"
        if not item.each:
            return "True"
        return "(" + " and ".join(_source(e, sets) for e in item.each) + ")"
    assert isinstance(item, Any)
    plain = frozenset(o for o in item.options if isinstance(o, str))
    parts = [_source(o, sets) for o in item.options if not isinstance(o, str)]
    if len(plain) == 1:
        parts.insert(0, _source(next(iter(plain)), sets))
    elif plain:
        sets.append(plain)
        parts.insert(0, f"(not w.isdisjoint(s{len(sets) - 1}))")
    return "(" + " or ".join(parts) + ")" if parts else "False"


class CompiledFormulas:
    """One check for a rule's patterns: does any pattern's formula hold for these words?

    The formulas become a Python boolean expression over set membership (the
    words are repr()'d literals or sets handed in by name, so nothing from a
    rule file is executed); evaluating it is several times faster than walking
    the tree for every message. Pickles as its formulas (scan workers receive
    the configuration pickled) and compiles again on arrival.
    """

    def __init__(self, formulas: tuple[object, ...]) -> None:
        self.formulas = formulas
        self._check = self._compile(formulas)

    @staticmethod
    @functools.lru_cache(maxsize=4096)  # rules share formulas: "{frame_advice}" in a dozen
    def _compile(formulas: tuple[object, ...]):
        if not formulas or any(f == ALWAYS for f in formulas):
            return None
        sets: list[frozenset[str]] = []
        expression = _source(Any(formulas), sets)
        scope: dict[str, object] = {"__builtins__": {}, **{f"s{i}": s for i, s in enumerate(sets)}}
        return eval(compile(f"lambda w: {expression}", "<prefilter>", "eval"), scope)  # noqa: S307

    def __call__(self, words: frozenset[str]) -> bool:
        return True if self._check is None else self._check(words)

    def __getstate__(self) -> tuple[object, ...]:
        return self.formulas

    def __setstate__(self, formulas: tuple[object, ...]) -> None:
        self.formulas = formulas
        self._check = self._compile(formulas)
