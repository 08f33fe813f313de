"""HTML rendered to the text a reader sees, plus what the reader can click.

Rendering rules, chosen so that detection sees what a person sees:

* inline tags join with no separator (a number split across ``<span>`` runs
  or HTML comments reads as one number), block tags and ``<br>`` end a line;
  table cells are separated by a space;
* ``<blockquote>`` (and Gmail/Yahoo quote containers) become ``>``-prefixed
  lines, so quoted history is recognised exactly as in plain text;
* text a reader cannot see (``display:none``, ``visibility:hidden``,
  ``font-size:0``, the ``hidden`` attribute) is kept apart: it is scanned too,
  since hiding text is how filters are evaded, but it is not mixed into the
  visible text where it could split a number;
* ``href`` targets (``mailto:``, ``tel:``, ``sms:``, ``https://wa.me/...``) are
  collected with the text they are attached to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_SKIP = {"script", "style", "head", "title", "template", "noscript", "xml", "svg", "object"}
_BLOCK = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "pre",
    "dd",
    "dt",
    "dl",
    "address",
    "center",
    "form",
    "fieldset",
    "caption",
    "body",
    "html",
}
_CELL = {"td", "th"}
_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:;|$|!)|max-height\s*:\s*0|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)",
    re.IGNORECASE,
)
_QUOTE_CLASS = re.compile(r"gmail_quote|yahoo_quoted|moz-cite|protonmail_quote", re.IGNORECASE)
_WS = re.compile(r"[ \t\r\n\f]+")


@dataclass(frozen=True, slots=True)
class Link:
    target: str
    label: str


@dataclass(frozen=True, slots=True)
class RenderedHtml:
    visible: str
    hidden: str
    links: tuple[Link, ...]


@dataclass(slots=True)
class _Element:
    tag: str
    hidden: bool
    quote: bool
    skip: bool


class _Renderer(HTMLParser):
    """Rendering state: the open elements, and counts of the hidden, skipped
    and quoting ones among them (kept as elements open and close, since every
    callback asks and the stack is walked only when an element closes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[_Element] = []
        self.lines: list[tuple[int, list[str]]] = [(0, [])]
        self.hidden_parts: list[str] = []
        self.links: list[Link] = []
        self._open_links: list[tuple[str, list[str]]] = []
        self._hidden = 0  # open elements that hide their content
        self._skipping = 0  # open elements whose content is not text (script, style...)
        self._depth = 0  # open quoting elements

    def _newline(self) -> None:
        depth, parts = self.lines[-1]
        if parts or depth != self._depth:
            self.lines.append((self._depth, []))

    def _write(self, text: str) -> None:
        depth, parts = self.lines[-1]
        if not parts and depth != self._depth:
            self.lines[-1] = (self._depth, parts)
        parts.append(text)

    # -- parser callbacks -------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "a" or tag == "area":
            href = a.get("href", "").strip()
            if href:
                self._open_links.append((href, []))
                if tag == "area":
                    self._close_link()
        if tag in _BLOCK:
            self._newline()
        elif tag in _CELL:
            self._write(" ")
        if tag in _VOID:
            if tag == "img" and a.get("alt"):
                self._write(a["alt"])
            return
        style = a.get("style")
        hidden = bool(style and _HIDDEN_STYLE.search(style)) or "hidden" in a
        css_class = a.get("class")
        quote = tag == "blockquote" or bool(css_class and _QUOTE_CLASS.search(css_class))
        skip = tag in _SKIP
        self.stack.append(_Element(tag, hidden, quote, skip))
        self._hidden += hidden
        self._skipping += skip
        self._depth += quote
        if quote:
            self._newline()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open_links:
            self._close_link()
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                closed = self.stack[i:]
                del self.stack[i:]
                quoted = False
                for e in closed:
                    self._hidden -= e.hidden
                    self._skipping -= e.skip
                    self._depth -= e.quote
                    quoted = quoted or e.quote
                if tag in _BLOCK or quoted:
                    self._newline()
                elif tag in _CELL:
                    self._write(" ")
                return

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        text = _WS.sub(" ", data)
        if not text:
            return
        if self._hidden:
            self.hidden_parts.append(text)
        else:
            self._write(text)
        for _, label in self._open_links:
            label.append(text)

    def _close_link(self) -> None:
        href, label = self._open_links.pop()
        self.links.append(Link(target=href, label=" ".join("".join(label).split())))

    def render(self) -> RenderedHtml:
        while self._open_links:
            self._close_link()
        out: list[str] = []
        blank = 0
        for depth, parts in self.lines:
            line = " ".join("".join(parts).split())
            if not line:
                blank += 1
                if blank > 1:
                    continue
            else:
                blank = 0
            prefix = "> " * depth if depth else ""
            out.append((prefix + line).rstrip())
        hidden = " ".join(" ".join(self.hidden_parts).split())
        return RenderedHtml("\n".join(out).strip("\n"), hidden, tuple(self.links))


# Markup the standard parser gives up on ("<![>" raises AssertionError in
# parse_marked_section): shown as text, so nothing after it goes unread.
_BOGUS_DECLARATION = re.compile(r"<!(?!--|\[CDATA\[|doctype)", re.IGNORECASE)


def render_html(source: str) -> RenderedHtml:
    try:
        return _render(source)
    except (AssertionError, ValueError, IndexError):
        return _render(_BOGUS_DECLARATION.sub("&lt;!", source))


def _render(source: str) -> RenderedHtml:
    renderer = _Renderer()
    renderer.feed(source)
    renderer.close()
    return renderer.render()
