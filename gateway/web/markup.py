"""A held message for a reviewer's eyes: text with findings marked, HTML made harmless.

Nothing from the message reaches the page unescaped except HTML that nh3
(the Ammonia sanitiser) has cleaned with an allowlist that has no images,
no styles, no forms and no scripts; the page's Content-Security-Policy
would stop anything that slipped through from running or loading. What is
shown comes from ``gateway.review.held``, as for the CLI.
"""

from __future__ import annotations

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


def sanitise_html(markup: str) -> Markup:
    """Only harmless structure survives: no img, style, form, script, event handler or javascript: URL."""
    return Markup(
        nh3.clean(
            markup,
            tags=_TAGS,
            attributes=_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
        )
    )


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
