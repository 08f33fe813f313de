"""The lexicon index finds what the lists' regexes find (and overlapping words too)."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.judge.lexicon import Lexicon
from gateway.judge.rules import expand_pattern

LISTS = {
    "invite": ["come round", "come over", "pop round", "join us", "'s on me", "let's"],
    "place": ["round mine", "my house", "at ours", "5-a-side"],
}
WORDS = [
    "come",
    "round",
    "mine",
    "pop",
    "my",
    "house",
    "at",
    "ours",
    "join",
    "us",
    "let's",
    "it's",
    "on",
    "me",
    "5-a-side",
    "Round",
    "HOUSE",
    "x",
]


def regex_spans(name: str, text: str) -> set[tuple[int, int]]:
    p = regex.compile(expand_pattern("{" + name + "}", LISTS, factored=True), regex.IGNORECASE)
    return {(m.start(), m.end()) for m in p.finditer(text)}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(WORDS), st.sampled_from([" ", "  ", "\n", " \n\t", ", ", "."])),
        max_size=25,
    )
)
def test_every_regex_match_is_found_and_every_hit_is_a_match(parts):
    text = "".join(w + sep for w, sep in parts)
    found = Lexicon(LISTS).find(text) or {}
    for name in LISTS:
        hits = set(found.get(name, ()))
        assert regex_spans(name, text) <= hits, text
        p = regex.compile(expand_pattern("{" + name + "}", LISTS), regex.IGNORECASE)
        for a, b in hits:  # each hit is the list's match at that place
            m = p.match(text, a)
            assert m is not None and m.end() == b, (text, a, b)


def test_overlapping_words_are_all_found():
    found = Lexicon(LISTS).find("so come round mine")
    assert found == {"invite": [(3, 13)], "place": [(8, 18)]}


def test_a_text_whose_length_changes_when_lowered_is_left_to_the_regexes():
    assert Lexicon(LISTS).find("İstanbul come round") is None


def test_a_lists_words_are_matched_as_typed_without_apostrophes():
    from gateway.judge.rules import _as_typed

    assert _as_typed(["i won't tell", "don't", "we'll", "it's", "i'm on"]) == [
        "i won't tell",
        "don't",
        "we'll",
        "it's",
        "i'm on",
        "i wont tell",
        "dont",
        "im on",
    ]


def test_the_whitespace_the_index_collapses_is_the_regex_modules_own():
    # The lists' regexes (regex module) let a space match any run of \s; the index
    # finds runs with the standard library's engine, so its class must be the same.
    import re
    import sys

    from gateway.judge.lexicon import REGEX_SPACE

    spelled = re.compile(f"[ {REGEX_SPACE}]")
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        assert bool(spelled.match(ch)) == bool(regex.match(r"\s", ch)), hex(code)
