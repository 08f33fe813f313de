"""E-mail addresses, written plainly or munged ("name at gmail dot com").

Found in linear time: plain addresses are grown outwards from each ``@``;
munged ones from each at-token. email-validator checks the syntax (never
deliverability: no DNS from a gateway).
"""

from __future__ import annotations

import email_validator
import regex

from gateway.detect import Candidate, Kind
from gateway.message import Segment

_LOCAL_TAIL = regex.compile(r"[A-Za-z0-9._%+'-]{1,64}$")
_DOMAIN_HEAD = regex.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
_FILE_TLDS = {"png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "css", "js", "doc", "docx", "xls", "xlsx", "txt"}

# "(at)", "[at]", "{at}", " at ", " @ " ... with "dot" munging in the domain.
_MUNGED = regex.compile(
    r"""(?P<local>(?:[a-z0-9_+'-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|\sdot\s)\s*|\s))*?[a-z0-9_+'-]+)
        (?P<at>\s*(?:\(at\)|\[at\]|\{at\}|<at>)\s*|\s+at\s+|\s+@\s*|\s*@\s+)
        (?P<domain>[a-z0-9-]+(?:\s*(?:\.|\(dot\)|\[dot\]|\{dot\}|\sdot\s)\s*[a-z0-9-]+){1,4})\b""",
    regex.VERBOSE | regex.IGNORECASE,
)
_DOT = regex.compile(r"\s*(?:\(dot\)|\[dot\]|\{dot\}|\sdot\s|\.)\s*", regex.IGNORECASE)
_KNOWN_TLDS = {"com", "net", "org", "uk", "co", "me", "io", "edu", "gov", "ac", "sch", "info", "biz", "us", "ie", "de", "fr", "example"}


def _valid(address: str) -> str | None:
    local, _, domain = address.rpartition("@")
    tld = domain.rsplit(".", 1)[-1].lower()
    if not tld.isalpha() or tld in _FILE_TLDS or not local:
        return None
    try:
        result = email_validator.validate_email(address, check_deliverability=False, test_environment=True)
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
                found.append(Candidate(Kind.EMAIL, address, seg, start, pos + 1 + len(domain)))
        pos = text.find("@", pos + 1)
    if seg.is_link:
        return found
    lowered = text.lower()
    if " at " not in lowered and "(at)" not in lowered and "[at]" not in lowered and "{at}" not in lowered and " @" not in lowered and "@ " not in lowered:
        return found
    for m in _MUNGED.finditer(text):
        at = m.group("at").strip().lower()
        domain_words = _DOT.split(m.group("domain"))
        has_dot_munge = bool(regex.search(r"\bdot\b", m.group(0), regex.IGNORECASE))
        if at == "at" and not has_dot_munge:
            continue  # "meet at school.com"-like prose: a plain " at " needs "dot" too
        # "gmail dot com. I'll": the sentence's full stop is not part of the domain.
        while len(domain_words) > 2 and domain_words[-1].lower() not in _KNOWN_TLDS:
            domain_words.pop()
        if domain_words[-1].lower() not in _KNOWN_TLDS:
            continue
        end = m.start("domain") + len(m.group("domain").rsplit(domain_words[-1], 1)[0]) + len(domain_words[-1])
        local_text = m.group("local")
        if at == "@":
            words = local_text.split()[-4:]
            local = "".join(_DOT.sub(".", w) for w in words)
            start = m.start("local") + local_text.rfind(words[0]) if words else m.start("local")
        else:
            local = _DOT.sub(".", local_text.split()[-1]) if not has_dot_munge else _DOT.sub(".", local_text).replace(" ", "")
            start = m.start("local") if has_dot_munge else m.start("local") + local_text.rfind(local_text.split()[-1])
        address = _valid(f"{local}@{'.'.join(domain_words)}")
        if address and not any(c.start <= end and start <= c.end for c in found):
            found.append(Candidate(Kind.EMAIL, address, seg, start, end, True, "munged address"))
    return found
