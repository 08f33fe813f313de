"""A held message for a reviewer's eyes: text with findings marked, HTML made harmless.

Nothing from the message reaches the page unescaped except HTML that nh3
(the Ammonia sanitiser) has cleaned with an allowlist that has no images,
no styles, no forms and no scripts; the page's Content-Security-Policy
would stop anything that slipped through from running or loading. What is
shown comes from ``gateway.review.held``, as for the CLI.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nh3
from markupsafe import Markup, escape

from gateway.review.held import HeldCopy, html_parts

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


@dataclass(frozen=True, slots=True)
class Segment:
    part: str
    html: Markup  # escaped text with <mark> around evidence


# nh3 writes every attribute as name="value", with '"' in a value as &quot;,
# so these two patterns read its output exactly (not arbitrary HTML).
_LINK = re.compile(r'<a((?:\s+[a-z-]+="[^"]*")*)\s*>|</a>')
_HREF = re.compile(r'\shref="([^"]*)"')


def _unlinked(cleaned: str) -> str:
    """Every link becomes its text followed by its target, as text: a reviewer
    sees where hostile mail points (relative, protocol-relative and look-alike
    targets included) and nothing on the page can be followed by a click."""
    out: list[str] = []
    targets: list[str] = []  # a stack, though the HTML parser never nests links
    last = 0
    for m in _LINK.finditer(cleaned):
        out.append(cleaned[last : m.start()])
        last = m.end()
        if m.group(0) == "</a>":
            target = targets.pop() if targets else ""
            out.append("</span>")
            if target:
                out.append(f' <span class="link-target">[link to {escape(target)}]</span>')
        else:
            href = _HREF.search(m.group(1) or "")
            # Unescaped, then escaped as text: '<' is legal in an attribute, not in text.
            targets.append(html.unescape(href.group(1)) if href else "")
            out.append('<span class="link">')
    out.append(cleaned[last:])
    return "".join(out)


def sanitise_html(markup: str) -> Markup:
    """Only harmless structure survives: no img, style, form, script, event handler,
    javascript: URL, and no link (each is shown as its text and its target)."""
    cleaned = nh3.clean(
        markup,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel=None,
        strip_comments=True,
    )
    return Markup(_unlinked(cleaned))


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


def segments(held: HeldCopy) -> list[Segment]:
    if held.unreadable:  # shown raw, as text
        raw = held.message.raw[:200_000].decode("utf-8", "replace")
        return [Segment("raw (the message could not be read)", _marked(raw, []))]
    by_part: dict[str, list[str]] = {}
    for f in held.copy.findings:
        by_part.setdefault(f.part, []).append(f.evidence)
    return [Segment(t.part, _marked(t.text, by_part.get(t.part, []))) for t in held.text]


def sanitised_html_parts(raw: bytes) -> list[Markup]:
    return [sanitise_html(html) for html in html_parts(raw)]
