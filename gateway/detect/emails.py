"""E-mail addresses, written plainly or munged ("name at gmail dot com").

Found in linear time: plain addresses are grown outwards from each ``@``;
munged ones from each at-token. email-validator checks the syntax (never
deliverability: no DNS from a gateway).
"""

from __future__ import annotations

import functools

import email_validator
import regex

from gateway.detect import Candidate, DetailType, Detector, register
from gateway.mail import DetailKind
from gateway.read.message import Segment

_DOT_WORD = regex.compile(r"\bdot\b", regex.IGNORECASE)
_LOCAL_TAIL = regex.compile(r"[A-Za-z0-9._%+'-]{1,64}$")
_DOMAIN_HEAD = regex.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
_FILE_TLDS = {
    "png",
    "jpg",
    "jpeg",
    "gif",
    "svg",
    "webp",
    "pdf",
    "css",
    "js",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "txt",
}

# Munged addresses are anchored on their at-token ("(at)", "[at]", " at ", " @ "):
# the domain is matched forwards from it and the local part backwards in a
# short window, so ordinary prose costs one cheap scan.
_SEP = r"(?:\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|\sdot\s)\s*)"
_AT_TOKEN = regex.compile(
    r"\s*(?:\(at\)|\[at\]|\{at\}|<at>)\s*|\s+at\s+|\s+@\s*|\s*@\s+", regex.IGNORECASE
)
_DOMAIN_FWD = regex.compile(r"[a-z0-9-]+(?:" + _SEP + r"[a-z0-9-]+){1,4}\b", regex.IGNORECASE)
_LOCAL_BACK = regex.compile(
    r"(?:[a-z0-9_+'-]+(?:" + _SEP + r"|\s))*[a-z0-9_+'-]+$", regex.IGNORECASE
)
_DOT = regex.compile(r"\s*(?:\(dot\)|\[dot\]|\{dot\}|\sdot\s|\.)\s*", regex.IGNORECASE)
_KNOWN_TLDS = {
    "com",
    "net",
    "org",
    "uk",
    "co",
    "me",
    "io",
    "edu",
    "gov",
    "ac",
    "sch",
    "info",
    "biz",
    "us",
    "ie",
    "de",
    "fr",
    "example",
}


# Where an at-token can be: its distinctive part. _AT_TOKEN begins with \s*,
# so searching with it directly tries a match at every character.
_AT_ANCHOR = regex.compile(r"\(at\)|\[at\]|\{at\}|<at>|(?<=\s)at(?=\s)|@", regex.IGNORECASE)
_SPACE = regex.compile(r"\s")


def _at_tokens(text: str):
    """The matches of _AT_TOKEN.finditer(text), found from their anchors.

    Every match contains an anchor and starts at the whitespace before it (or
    at the anchor), so trying _AT_TOKEN.match there, left to right and never
    before the previous match's end, yields exactly what finditer yields.
    """
    last_end = 0
    for a in _AT_ANCHOR.finditer(text):
        if a.start() < last_end:
            continue
        start = a.start()
        while start > last_end and _SPACE.match(text, start - 1):
            start -= 1
        m = _AT_TOKEN.match(text, start)
        if m is None and start < a.start():
            m = _AT_TOKEN.match(text, a.start())
        if m is not None and m.end() > a.start():
            last_end = m.end()
            yield m


@functools.lru_cache(maxsize=4096)
def _valid(address: str) -> str | None:
    local, _, domain = address.rpartition("@")
    tld = domain.rsplit(".", 1)[-1].lower()
    if not tld.isalpha() or tld in _FILE_TLDS or not local:
        return None
    try:
        result = email_validator.validate_email(
            address, check_deliverability=False, test_environment=True
        )
    except email_validator.EmailNotValidError:
        return None
    return result.normalized.lower()


def find_emails(seg: Segment) -> list[Candidate]:
    text = seg.text.text
    found: list[Candidate] = []
    pos = text.find("@")
    while pos >= 0:
        lm = _LOCAL_TAIL.search(text, max(0, pos - 64), pos)
        dm = _DOMAIN_HEAD.match(text, pos + 1, min(len(text), pos + 300))
        if lm and dm:
            local = lm.group(0).lstrip(".'-")
            start = pos - len(local)
            domain = dm.group(0).rstrip(".-")
            address = _valid(f"{local}@{domain}")
            if address:
                found.append(Candidate("email", address, seg, start, pos + 1 + len(domain)))
        pos = text.find("@", pos + 1)
    if seg.is_link:
        return found
    # Every at-token holds an "@" or the word "at"; a plain " at " only counts
    # with a "dot" munge near it (below), and "dot" is inside a word if it is
    # anywhere (the words are casefolded: "DOT" is there as "dot").
    words = seg.words
    has_at_sign = "@" in text
    if not has_at_sign and "at" not in words:
        return found
    no_dot_word = not any("dot" in w for w in words)
    if not has_at_sign and no_dot_word and not any(c in text for c in "([{<"):
        return found  # only plain " at "s, and no "dot" to make one count
    for m in _at_tokens(text):
        if no_dot_word and m.group(0).strip().lower() == "at":
            continue
        dm = _DOMAIN_FWD.match(text, m.end(), min(len(text), m.end() + 120))
        if not dm:
            continue
        domain_words = _DOT.split(dm.group(0))
        # "gmail dot com. I'll": the sentence's full stop is not part of the domain.
        while len(domain_words) > 2 and domain_words[-1].lower() not in _KNOWN_TLDS:
            domain_words.pop()
        if domain_words[-1].lower() not in _KNOWN_TLDS:
            continue
        end = dm.start() + len(dm.group(0).rsplit(domain_words[-1], 1)[0]) + len(domain_words[-1])
        lo = max(0, m.start() - 80)
        lm = _LOCAL_BACK.search(text, lo, m.start())
        if not lm:
            continue
        local_text = lm.group(0)
        at = m.group(0).strip().lower()
        has_dot_munge = bool(_DOT_WORD.search(text[lm.start() : end]))
        if at == "at" and not has_dot_munge:
            continue  # "meet at school.com"-like prose: a plain " at " needs "dot" too
        if at == "@":
            last_words = local_text.split()[-4:]
            local = "".join(_DOT.sub(".", w) for w in last_words)
            start = lm.start() + local_text.rfind(last_words[0])
        elif has_dot_munge and _DOT.search(local_text):
            tail = regex.search(
                r"(?:[a-z0-9_+'-]+" + _SEP + r")+[a-z0-9_+'-]+$", local_text, regex.IGNORECASE
            )
            local = _DOT.sub(".", tail.group(0)) if tail else local_text.split()[-1]
            start = lm.start() + (
                tail.start() if tail else local_text.rfind(local_text.split()[-1])
            )
        else:
            local = local_text.split()[-1]
            start = lm.start() + local_text.rfind(local)
        address = _valid(f"{local}@{'.'.join(domain_words)}")
        if address and not any(c.start <= end and start <= c.end for c in found):
            found.append(Candidate("email", address, seg, start, end, True, "munged address"))
    return found


def canonical_address(written: str, region: str = "") -> str | None:
    """An approved address as the register keeps it: lower case, no angle brackets or spaces."""
    address = written.strip().strip("<>").strip().lower()
    return address if "@" in address else None


register(
    lambda segment, context: find_emails(segment),
    Detector("email", approved_as=DetailKind.EMAIL),
    details=(DetailType(DetailKind.EMAIL, canonical=canonical_address, same=str.__eq__),),
)
