"""A text's words, found with byte operations rather than a regex walk.

Cheap tests ask "which words are here" of every scanned text before the
patterns run: the phrase prefilter (``gateway.judge.prefilter``), the spelled-out
phone number screen (``gateway.detect.phones``), the platform word beside a
handle (``gateway.detect.links``) and the at-token of a munged address
(``gateway.detect.emails``). ``re.findall(r"\\w+")`` over a 10 KB letter
costs half a millisecond; encoding, mapping every ASCII non-word byte to a
space and splitting costs a tenth of that. Bytes of non-ASCII characters are
left alone, so a token that holds any is split again by ``\\w+`` itself:
the result is exactly ``\\w+`` over the casefolded text.
"""

from __future__ import annotations

import re

import regex

_WORD = re.compile(r"\w+")
# ASCII letters lower-cased, digits and "_" kept, other ASCII bytes -> space;
# bytes of non-ASCII characters (0x80-0xFF in UTF-8) kept as they are.
_ASCII_WORD_BYTES = bytes(
    (ord(chr(c).lower()) if chr(c).isalnum() or chr(c) == "_" else 0x20) if c < 0x80 else c
    for c in range(256)
)


def spaced(text: str) -> bytes:
    """The text as UTF-8 with ASCII letters lower-cased and every other ASCII
    byte that is not a word character turned into a space."""
    return text.encode("utf-8", "surrogatepass").translate(_ASCII_WORD_BYTES)


def tokens(text: str) -> list[bytes]:
    """The text's words in order, ASCII ones lower-cased. A token with non-ASCII
    bytes may still hold non-word characters: see ``words_of``."""
    return spaced(text).split()


def split_token(token: bytes) -> list[str]:
    """The casefolded ``\\w+`` words of one token."""
    if token.isascii():
        return [token.decode()]
    return _WORD.findall(token.decode("utf-8", "surrogatepass").casefold())


def words_of(toks: list[bytes] | set[bytes]) -> set[str]:
    """The set of casefolded ``\\w+`` words of a token list."""
    distinct = toks if isinstance(toks, set) else set(toks)
    joined = b" ".join(distinct)
    if joined.isascii():
        return set(joined.decode().split())
    out: set[str] = set()
    for token in distinct:
        if token.isascii():
            out.add(token.decode())
        else:
            out.update(split_token(token))
    return out


# The regex module's idea of a word character, which its \b follows.
_REGEX_WORD = regex.compile(r"\w+")


def regex_words(token: bytes | str) -> list[str]:
    """The words of a (non-ASCII) token as the regex module's ``\\w`` and ``\\b``
    see them: it counts combining marks as word characters and some numerals,
    like superscripts, not, unlike ``re``."""
    if isinstance(token, bytes):
        token = token.decode("utf-8", "surrogatepass")
    return _REGEX_WORD.findall(token)


def may_hold_any(words: set[str] | frozenset[str], vocabulary: frozenset[str]) -> bool:
    """Could a case-insensitive ``\\b(?:w1|w2...)\\b`` (regex module) match a text
    whose ``words_of`` are ``words``? False only when it cannot.

    ASCII words answer directly. A word with non-ASCII characters is split again
    where the regex module sees word boundaries (``regex_words``), so
    "snap\u00b2" still offers "snap". Casefolding already turned the letters that
    case-insensitive matching equates with ASCII ones (long s, Kelvin sign)
    into ASCII.
    """
    if not vocabulary.isdisjoint(words):
        return True
    return any(part in vocabulary for w in words if not w.isascii() for part in regex_words(w))
