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

The document is parsed by Lexbor (through selectolax), a browser's HTML5
parser written in C: malformed markup is read into the tree a mail program's
browser engine would build (an unclosed ``<span style="display:none">`` hides
what a browser hides), and the parse costs a fraction of the standard
library's ``html.parser``, which tokenised in Python. The tree is walked
without recursion, so hostile nesting cannot exhaust the stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

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
# Paragraphs a mail program draws without margins: Outlook's (a paragraph a line,
# an empty one for a blank line), and any whose style zeroes the margin.
_MARGINLESS = re.compile(r"MsoNormal|MsoPlainText|margin\s*:\s*0(?![.\d]*[1-9])", re.IGNORECASE)


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
    paragraph: bool = False  # a <p> with a browser's margins: a blank line either side


class _Renderer:
    """Rendering state: the open elements, and counts of the hidden, skipped
    and quoting ones among them (kept as elements open and close, since every
    event asks and the stack is walked only when an element closes)."""

    def __init__(self) -> None:
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

    def _paragraph(self) -> None:
        """A paragraph's edge: a new line after a blank one."""
        self._newline()
        if len(self.lines) > 1 and self.lines[-2][1]:
            self.lines.append((self._depth, []))

    def _write(self, text: str) -> None:
        depth, parts = self.lines[-1]
        if not parts and depth != self._depth:
            self.lines[-1] = (self._depth, parts)
        parts.append(text)

    # -- events, in document order ------------------------------------------
    def start(self, tag: str, attrs: dict[str, str | None]) -> None:
        a = {k: (v or "") for k, v in attrs.items()}  # Lexbor lower-cases HTML's names
        if tag == "a" or tag == "area":
            href = a.get("href", "").strip()
            if href:
                self._open_links.append((href, []))
                if tag == "area":
                    self._close_link()
        paragraph = tag == "p" and not _MARGINLESS.search(
            f"{a.get('class', '')} {a.get('style', '')}"
        )
        if paragraph:
            self._paragraph()
        elif tag == "br" and not self.lines[-1][1]:
            # A line break on an empty line draws that line: Gmail's blank line
            # is <div><br></div>, and <br><br> leaves one between two lines.
            self.lines.append((self._depth, []))
        elif tag in _BLOCK:
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
        self.stack.append(_Element(tag, hidden, quote, skip, paragraph))
        self._hidden += hidden
        self._skipping += skip
        self._depth += quote
        if quote:
            self._newline()
        if tag == "li" and not (self._hidden or self._skipping):
            # The bullet a reader sees: a list item reads as one, as in plain text.
            self._write("- ")

    def end(self, tag: str) -> None:
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
                if tag == "p" and closed[0].paragraph:
                    self._paragraph()
                elif tag in _BLOCK or quoted:
                    self._newline()
                elif tag in _CELL:
                    self._write(" ")
                return

    def data(self, data: str) -> None:
        if self._skipping:
            return
        text = _WS.sub(" ", data)
        if not text:
            return
        if self._hidden:
            self.hidden_parts.append(text)
        elif text != " " or self.lines[-1][1]:
            # Space between blocks is no text: a browser shows none, and a line
            # holding only it would read as a blank line between paragraphs.
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


# Browsers stop nesting elements at a depth (Chromium at 512) and attach deeper
# ones as siblings. Lexbor does not, and its tree builder's scope checks make a
# document of 40,000 nested <div>s cost seconds: tags past this depth are
# dropped before parsing, their text kept. Only a document with more open tags
# than this can be that deep, so most are never looked at.
MAX_DEPTH = 512
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*?(/?)>")


def _flatten(source: str) -> str:
    """``source`` with the tags nested deeper than ``MAX_DEPTH`` left out."""
    if source.count("<") <= MAX_DEPTH:
        return source
    pieces: list[str] = []
    depth, last = 0, 0
    for m in _TAG.finditer(source):
        closing, name, self_closing = m.group(1), m.group(2).lower(), m.group(3)
        if self_closing or name in _VOID:
            continue
        deep = depth >= MAX_DEPTH if not closing else depth > MAX_DEPTH
        depth = max(0, depth - 1) if closing else depth + 1
        if deep:
            pieces.append(source[last : m.start()])
            last = m.end()
    if not pieces:
        return source
    pieces.append(source[last:])
    return "".join(pieces)


def render_html(source: str) -> RenderedHtml:
    renderer = _Renderer()
    root = LexborHTMLParser(_flatten(source)).root
    if root is None:
        return renderer.render()
    # An explicit stack of the open elements and their children still to read:
    # the tree's depth is the sender's to choose.
    renderer.start(root.tag or "", root.attributes)
    open_: list[tuple[str, Iterator[LexborNode]]] = [(root.tag or "", root.iter(include_text=True))]
    while open_:
        tag, children = open_[-1]
        for node in children:
            if node.is_text_node:
                renderer.data(node.text_content or "")
            elif node.is_element_node:
                child = node.tag or ""
                renderer.start(child, node.attributes)
                if child not in _VOID:
                    open_.append((child, node.iter(include_text=True)))
                    break
        else:
            open_.pop()
            renderer.end(tag)
    return renderer.render()
