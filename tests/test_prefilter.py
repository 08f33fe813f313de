"""The word prefilter must never skip a rule whose regex would match."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.judge.prefilter import (
    ALWAYS,
    Any,
    CompiledFormulas,
    Words,
    could_match,
    message_words,
    needed_words,
)
from gateway.judge.rules import expand_pattern


def _phrase_patterns(config) -> list[regex.Pattern]:
    return [p for r in config.rules.rules if r.detector == "phrases" for p in r.patterns]


def _vocabulary(config) -> list[str]:
    words = set()
    for p in _phrase_patterns(config):
        words |= set(
            regex.findall(r"[a-z][a-z']*", p.pattern.replace(r"\s", " ").replace(r"\w", " "))
        )
    return sorted(words)


def test_a_shared_prefix_is_put_back_into_each_alternative():
    formula = needed_words(expand_pattern("(?:lift|lifts) home", {}))
    assert could_match(formula, message_words("Do you need lifts home?"))
    assert could_match(formula, message_words("a lift home"))
    assert not could_match(formula, message_words("We walk home."))  # "home" alone is not enough


def test_words_need_their_boundaries():
    formula = needed_words(expand_pattern("text me", {}))
    assert could_match(formula, message_words("TEXT ME tonight"))
    assert not could_match(formula, message_words("the context menu"))  # substrings are not words
    # A pattern that lets a word run on ("snap\\w*") must not require the whole word.
    open_ended = needed_words(r"\bsnap\w*\s+me")
    assert could_match(open_ended, message_words("snapchat me"))


def test_patterns_the_parser_cannot_read_always_run():
    assert needed_words(r"\p{Lu}{3,} me") is ALWAYS


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_prefilter_never_skips_a_match_of_the_real_rules(config, data):
    vocabulary = _vocabulary(config)
    tokens = data.draw(
        st.lists(
            st.sampled_from(vocabulary + ["the", "a", "to", "and", "x", "9"]),
            min_size=1,
            max_size=14,
        )
    )
    seps = data.draw(
        st.lists(
            st.sampled_from([" ", "  ", "\n", ", ", ". ", "-", "'", " '", "! "]),
            min_size=len(tokens),
            max_size=len(tokens),
        )
    )
    text = "".join(t + s for t, s in zip(tokens, seps, strict=True))
    if data.draw(st.booleans()):
        text = text.upper()
    words = message_words(text)
    for pattern in _phrase_patterns(config):
        if pattern.search(text):
            assert could_match(needed_words(pattern.pattern), words), (pattern.pattern, text)


def test_prefilter_never_skips_a_match_on_sentences_that_do_match(config):
    sentences = [
        "WhatsApp me when you land",
        "Text me on my mobile",
        "Add me on Snapchat - my username is jo",
        "Don't tell your mum about this",
        "This is just between you and me",
        "Fancy a drink after work on Friday?",
        "What's your snap? I'll add you",
        "Send me your mobile number",
        "Do you need lifts home after the match?",
        "Come round mine on Saturday",
        "I'm on insta",
        "Let's keep this between ourselves",
    ]
    matched = 0
    for text in sentences:
        words = message_words(text)
        for pattern in _phrase_patterns(config):
            if pattern.search(text):
                matched += 1
                assert could_match(needed_words(pattern.pattern), words), (pattern.pattern, text)
    assert matched >= len(sentences)  # the sentences do exercise the rules


_WORDS = st.sampled_from(["me", "text", "lift", "home", "snap", "my", "house", "call"])
_FORMULAS = st.recursive(
    _WORDS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda each: Words(tuple(each))),
        st.lists(inner, max_size=6).map(lambda options: Any(tuple(options))),
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_FORMULAS, min_size=1, max_size=3), st.frozensets(_WORDS))
def test_the_compiled_check_answers_as_the_formulas_do(formulas, words):
    """The compiled expression (set tests for plain words) says what walking the tree says."""
    expected = any(could_match(f, words) for f in formulas)
    assert CompiledFormulas(tuple(formulas))(words) == expected
