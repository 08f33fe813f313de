"""A held message for a reviewer's eyes: text with findings marked, HTML made harmless, attachments listed.

Nothing from the message reaches the page unescaped except HTML that nh3
(the Ammonia sanitiser) has cleaned with an allowlist that has no images,
no styles, no forms and no scripts; the page's Content-Security-Policy
would stop anything that slipped through from running or loading.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass

import nh3
from markupsafe import Markup, escape

from gateway.read.message import decode_text, read_message
from gateway.store import StoredFinding

_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "li",
         "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "th",
         "thead", "tr", "u", "ul"}
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


@dataclass(frozen=True, slots=True)
class Segment:
    part: str
    html: Markup  # escaped text with <mark> around evidence


@dataclass(frozen=True, slots=True)
class Attachment:
    index: int
    name: str
    type: str
    size: int


def sanitise_html(markup: str) -> Markup:
    """Only harmless structure survives: no img, style, form, script, event handler or javascript: URL."""
    return Markup(nh3.clean(markup, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                            link_rel="noopener noreferrer nofollow", strip_comments=True))


def _marked(text: str, evidence: list[str]) -> Markup:
    spans: list[tuple[int, int]] = []
    lowered = text.lower()
    for ev in evidence:
        needle = " ".join(ev.split()).lower()
        if not needle:
            continue
        start = lowered.find(needle)
        while start >= 0:
            spans.append((start, start + len(needle)))
            start = lowered.find(needle, start + len(needle))
    spans.sort()
    out, last = [], 0
    for a, b in spans:
        if a < last:
            continue
        out += [escape(text[last:a]), Markup("<mark>"), escape(text[a:b]), Markup("</mark>")]
        last = b
    out.append(escape(text[last:]))
    return Markup("").join(out)


def segments(raw: bytes, findings: tuple[StoredFinding, ...], is_colleague) -> list[Segment]:
    try:
        view = read_message(raw, is_colleague)
    except Exception:  # noqa: BLE001 - an unreadable message is shown raw, as text
        return [Segment("raw (the message could not be read)", _marked(raw[:200_000].decode("utf-8", "replace"), []))]
    by_part: dict[str, list[str]] = {}
    for f in findings:
        by_part.setdefault(f.part, []).append(f.evidence)
    return [Segment(seg.part, _marked(seg.text.text, by_part.get(seg.part, [])))
            for seg in view.segments if not seg.is_link]


def html_parts(raw: bytes) -> list[Markup]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for part in msg.walk():
        if part.get_content_type() == "text/html" and part.get_filename() is None:
            payload = part.get_payload(decode=True) or b""
            out.append(sanitise_html(decode_text(payload, part.get_content_charset())))
    return out


def attachments(raw: bytes) -> list[tuple[Attachment, bytes]]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = []
    for index, part in enumerate(msg.walk()):
        if part.is_multipart():
            continue
        name = part.get_filename()
        if not name and part.get_content_maintype() in ("text", "multipart"):
            continue
        payload = part.get_payload(decode=True) or b""
        out.append((Attachment(index, name or f"part-{index}", part.get_content_type(), len(payload)), payload))
    return out
