"""Normalised text and its way back to the decoded text, CRLF or not."""

import random

from gateway.read.normalize import normalize

PIECES = [
    "a",
    "b",
    "7",
    " ",
    "@",
    ".",
    "\n",
    "\r",
    "\r\n",
    "\u200b",
    "\u00a0",
    "\uff10",
    "\u2013",
    "\u201c",
    "\ufb01",
    "\t",
    "\u00e9",
]


def test_carriage_returns_are_dropped_and_offsets_still_lead_to_the_source():
    rng = random.Random(7)
    for _ in range(3000):
        source = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))
        norm = normalize(source)
        assert "\r" not in norm.text
        assert norm.text == normalize(source.replace("\r", "")).text
        for i, ch in enumerate(norm.text):
            src = source[norm.source_offset(i)]
            if ch.isascii() and ch.isalnum():
                # A plain letter or digit was copied, or folded from the one it points at.
                assert src == ch or ch in normalize(src).text, (source, i)
            assert src != "\r", (source, i)


def test_evidence_spanning_a_crlf_line_break_is_the_source_text():
    source = "Call me on\r\n07700 900123\r\nthanks"
    norm = normalize(source)
    start = norm.text.index("me")
    end = norm.text.index("123") + 3
    assert norm.text[start:end] == "me on\n07700 900123"
    # Evidence is shown stripped (a span may run up to the next kept character).
    assert norm.source_excerpt(start, end).strip() == "me on\r\n07700 900123"
    assert norm.source_excerpt(norm.text.index("thanks"), len(norm.text)) == "thanks"


def test_folded_characters_map_back_after_carriage_returns():
    source = "line\r\n\r\n\uff10\uff17\u200b700\r\n"
    norm = normalize(source)
    assert norm.text == "line\n\n07700\n"
    assert norm.hidden_characters == 1
    assert (
        norm.source_excerpt(norm.text.index("07700"), norm.text.index("07700") + 5).strip()
        == "\uff10\uff17\u200b700"
    )


def test_special_characters_are_found_as_the_regex_finds_them():
    from gateway.read.normalize import _SPECIAL, _special_spans

    alphabet = [
        *"ab 1@.\n\r\t",
        "\u00a0",
        "\u00e9",
        "\u00a3",
        "\x00",
        "\x7f",
        "\x85",
        "\u2019",
        "\uff10",
    ]
    rng = random.Random(3)
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        assert _special_spans(text) == [m.span() for m in _SPECIAL.finditer(text)], text
