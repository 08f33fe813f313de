"""gateway.read.words finds exactly the words of re.findall(r"\\w+") over casefolded text."""

import random
import re

from gateway.read.words import split_token, tokens, words_of

ALPHABET = list("abcXYZ019_ .,;-@'\n\t") + [
    "\u00e9",
    "\u00df",
    "\u0130",
    "\u017f",
    "\u00a3",
    "\u2014",
    "\u00a0",
    "\u2028",
    "\u0663",
    "\u00b2",
    "\U0001f600",
    "\u0301",
]


def test_words_match_the_regex_on_random_text():
    rng = random.Random(11)
    for _ in range(5000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
        expected = set(re.findall(r"\w+", text.casefold()))
        assert words_of(tokens(text)) == expected, text


def test_tokens_keep_order_and_split_only_non_ascii_tokens_again():
    assert tokens("Ring ME, on: 0770!") == [b"ring", b"me", b"on", b"0770"]
    (token,) = tokens("STRA\u00dfE\u2014x")
    assert split_token(token) == ["strasse", "x"]
