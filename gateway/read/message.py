"""MIME bytes -> what a person reads, part by part, with who wrote each line.

``read_message`` turns raw bytes into a ``MessageView``: the envelope-relevant
headers and a list of ``Segment`` values (subject, human-read headers, each text
part, the rendered HTML, its link targets, every readable attachment and
forwarded message). Each segment's text is normalised (see ``normalize``) and
cut into zones: what the sender wrote now, the signature, and quoted history,
with the author of each quoted block.

Whose words a zone holds decides whether a detail in it is the sender's
disclosure: a parent's number quoted back is not; a colleague's forwarded
message or the sender's own earlier reply still is.

Reading never raises for bad input it can survive (wrong or unknown charsets,
broken base64, missing boundaries); it raises ``UnreadableMessage`` when the
message cannot be read as a whole (too deep, too many parts), so the caller
can hold it rather than pass it half-read.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.policy
import email.utils
import functools
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from enum import Enum

from gateway.mail import header_block_end
from gateway.read.html import render_html
from gateway.read.normalize import NormalizedText, normalize
from gateway.read.words import spaced, words_of


class UnreadableMessage(Exception):
    """The message cannot be read as a person would read it; hold it."""


class Zone(Enum):
    NEW = "new"
    SIGNATURE = "signature"
    QUOTED = "quoted"
    QUOTE_HEADER = "quote-header"  # "On ... wrote:" and "From: / Sent:" lines


class Owner(Enum):
    """Whose words these are, as far as the policy is concerned."""

    SCHOOL = "school"  # the sender, or a colleague: their disclosures count
    CORRESPONDENT = "correspondent"  # a parent, student or outsider: not the sender's


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    address: str


@dataclass(frozen=True, slots=True)
class ZoneSpan:
    start: int
    end: int
    zone: Zone
    owner: Owner
    author: Author | None = None


class Segment:
    """One piece of readable text and where it came from.

    ``zones`` may be given, or computed on first use by ``cut`` (text -> zones):
    most text of most messages holds no candidate and no phrase match, so its
    zones are never asked for and cutting them would be wasted work.
    """

    __slots__ = ("part", "text", "is_link", "_zones", "_cut", "_spaced", "_distinct", "_words")

    def __init__(
        self,
        part: str,
        text: NormalizedText,
        zones: tuple[ZoneSpan, ...] | None = None,
        is_link: bool = False,
        *,
        cut: Callable[[str], tuple[ZoneSpan, ...]] | None = None,
    ) -> None:
        if (zones is None) == (cut is None):
            raise ValueError("a Segment needs either its zones or a way to cut them")
        self.part = part  # subject | body | html | attachment:NAME | header:NAME
        self.text = text
        self.is_link = is_link  # an href target, not running text
        self._zones = zones
        self._cut = cut
        self._spaced: bytes | None = None
        self._distinct: set[bytes] | None = None
        self._words: frozenset[str] | None = None

    @property
    def zones(self) -> tuple[ZoneSpan, ...]:
        if self._zones is None:
            assert self._cut is not None
            self._zones, self._cut = self._cut(self.text.text), None
        return self._zones

    @property
    def spaced(self) -> bytes:
        """The text's words as bytes between spaces (``gateway.words.spaced``)."""
        if self._spaced is None:
            self._spaced = spaced(self.text.text)
        return self._spaced

    @property
    def distinct_tokens(self) -> set[bytes]:
        """The distinct tokens of ``spaced`` (``gateway.words.tokens``)."""
        if self._distinct is None:
            self._distinct = set(self.spaced.split())
        return self._distinct

    @property
    def words(self) -> frozenset[str]:
        """The set of casefolded ``\\w+`` words (``gateway.words.words_of``)."""
        if self._words is None:
            self._words = frozenset(words_of(self.distinct_tokens))
        return self._words

    def __repr__(self) -> str:
        return f"Segment({self.part!r}, {self.text.text[:40]!r}..., is_link={self.is_link})"

    def zone_at(self, index: int) -> ZoneSpan:
        for z in self.zones:
            if z.start <= index < z.end:
                return z
        return self.zones[-1] if self.zones else ZoneSpan(0, 0, Zone.NEW, Owner.SCHOOL)


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content_type: str
    size: int
    scanned: bool


@dataclass(frozen=True, slots=True)
class MessageView:
    sender: Author
    reply_to: tuple[Author, ...]
    to: tuple[Author, ...]
    cc: tuple[Author, ...]
    bcc: tuple[Author, ...]
    subject: str
    date: datetime | None
    message_id: str
    segments: tuple[Segment, ...]
    attachments: tuple[Attachment, ...]
    notes: tuple[str, ...]
    hidden_characters: int

    @property
    def recipients(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for a in (*self.to, *self.cc, *self.bcc):
            if a.address:
                seen.setdefault(a.address, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class ReadLimits:
    max_depth: int = 40
    max_parts: int = 2000
    max_attachment_bytes: int = 25 * 1024 * 1024
    max_pdf_pages: int = 200


# -- who is "us": the sender and colleagues ---------------------------------

IsColleague = Callable[[Author], bool]


@functools.lru_cache(maxsize=4096)
def _name_key(name: str) -> frozenset[str]:
    """'Hughes, Daniel' and 'Daniel Hughes' compare equal; titles are ignored."""
    name = name.strip().strip('"').lower()
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first} {last}"
    words = re.findall(r"[a-z][a-z'-]+", name)
    return frozenset(w for w in words if w not in {"mr", "mrs", "ms", "miss", "dr", "sir"})


def same_person(a: str, b: str) -> bool:
    ka, kb = _name_key(a), _name_key(b)
    return len(ka) >= 2 and ka == kb


# -- decoding ----------------------------------------------------------------

_CHARSET_ALIASES = {
    "utf8": "utf-8",
    "ascii": "us-ascii",
    "latin1": "iso-8859-1",
    "unicode-1-1-utf-7": "utf-7",
}


def decode_text(data: bytes, declared: str | None, notes: list[str] | None = None) -> str:
    """Decode bytes whose charset label may be wrong, unknown or missing.

    Order: the declared charset if Python knows it and it decodes cleanly;
    UTF-8; Windows-1252 (what "iso-8859-1" and unlabelled Western mail usually
    is); and finally the declared charset or UTF-8 with replacement characters.
    """
    label = (declared or "").strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    codec = None
    if label:
        try:
            codec = codecs.lookup(label).name
        except LookupError:
            if notes is not None:
                notes.append(f"unknown charset {label!r}; decoded by guessing")
    if codec in {"ascii", "us-ascii"}:
        codec = None  # 8-bit bytes under an ascii label are common; guess instead
    candidates = [c for c in (codec, "utf-8", "cp1252") if c]
    if codec in {"latin_1", "iso8859-1", "iso8859_1"}:
        candidates = ["cp1252", "latin-1"]
    for c in candidates:
        try:
            return data.decode(c)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode(codec or "utf-8", errors="replace")


def header_fields(raw: bytes) -> tuple[str, str]:
    """Subject and Message-ID as a person reads them, from the header block alone
    (for listing a message the scanner did not read, or could not)."""
    head = raw[: min(header_block_end(raw), 256 * 1024)]
    msg = email.message_from_bytes(head + b"\n\n", policy=email.policy.compat32)
    return decode_header(msg.get("Subject")), decode_header(msg.get("Message-ID")).strip()


def decode_header(raw: str | None) -> str:
    if raw is None:
        return ""
    raw = str(raw)
    try:
        pieces = email.header.decode_header(raw)
    except Exception:
        return " ".join(raw.split())
    out: list[str] = []
    for chunk, charset in pieces:
        if isinstance(chunk, bytes):
            out.append(decode_text(chunk, charset))
        else:
            out.append(chunk)
    return " ".join("".join(out).split())


def _addresses(values: list) -> tuple[Author, ...]:
    return _addresses_of(tuple(str(v) for v in values if v))


@functools.lru_cache(maxsize=4096)  # the same senders and recipients all day
def _addresses_of(values: tuple[str, ...]) -> tuple[Author, ...]:
    decoded = [decode_header(v) for v in values]
    result = []
    for name, addr in email.utils.getaddresses(decoded):
        addr = addr.strip().strip("<>").lower()
        if "@" in addr:
            result.append(Author(name=name.strip(), address=addr))
    return tuple(result)


# -- zones: new text, signature, quoted history ------------------------------

_QUOTE_PREFIX = re.compile(r"^((?:[ \t]*>)+)[ \t]?")
_ON_WROTE = re.compile(
    r"^(?:on|le|am|el|op)\b.{4,300}?(?:wrote|a écrit|schrieb|escribió|schreef)\s*:\s*$",
    re.IGNORECASE,
)
_ON_START = re.compile(r"^(?:on|le|am|el|op)\s+\S", re.IGNORECASE)
_WROTE_END = re.compile(r"(?:wrote|a écrit|schrieb|escribió|schreef)\s*:\s*$", re.IGNORECASE)
_ATTRIB_AUTHOR = re.compile(
    r"(?P<name>[^,<>]*?)\s*<(?P<addr>[^<>\s@]+@[^<>\s]+)>\s*(?:wrote|a écrit|schrieb|escribió|schreef)",
    re.IGNORECASE,
)
_ATTRIB_NAME = re.compile(
    r",\s*(?:at\s+)?(?:\d{1,2}[:.]\d{2}\s*(?:[ap]m)?,?\s*)?(?P<name>[^,<>]+?)\s+(?:wrote|a écrit|schrieb)",
    re.IGNORECASE,
)
# A cheap first look: only a line starting like this can be an attribution,
# a header block's From line or a separator (each is matched in full after).
_MAYBE_MARKER = re.compile(
    r"^(?:(?:on|le|am|el|op)\b|\*?(?:from|de|von|van)\*?\s*:|-{2,}|_{10,}|begin forwarded)",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\*?(?:from|de|von|van)\*?\s*:\s*(?P<value>.+)$", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\*?(?:sent|date|to|cc|subject|envoyé|gesendet|an|betreff|objet|à)\*?\s*:", re.IGNORECASE
)
_SEPARATOR = re.compile(
    r"^(?:-{2,}\s*(?:original message|forwarded message|message d'origine)\s*-*|_{10,}|begin forwarded message:?|-{5,})\s*$",
    re.IGNORECASE,
)
_VALEDICTION = re.compile(
    r"^(?:(?:kind|best|warm|warmest|many|with)\s+)?(?:regards|wishes|thanks|thank you|best wishes)[,.!]*$"
    r"|^(?:cheers|best|thanks|many thanks|yours(?: sincerely| faithfully| truly)?|sincerely|with thanks|take care|speak soon)[,.!]*$",
    re.IGNORECASE,
)
_SENT_FROM = re.compile(r"^(?:sent from my|get outlook for)\b", re.IGNORECASE)


def _parse_author(value: str) -> Author:
    pairs = email.utils.getaddresses([value])
    name, addr = pairs[0] if pairs else ("", "")
    if "@" not in addr:
        m = re.search(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", value)
        addr = m.group(0) if m else ""
        name = name if name else value.split("<")[0].split("[")[0]
    return Author(name=name.strip().strip('"'), address=addr.strip().lower())


def _attribution_author(line: str) -> Author:
    m = _ATTRIB_AUTHOR.search(line)
    if m:
        return Author(name=m.group("name").strip().strip('"'), address=m.group("addr").lower())
    m = _ATTRIB_NAME.search(line)
    return Author(name=m.group("name").strip() if m else "", address="")


@dataclass(slots=True)
class _Line:
    start: int
    end: int
    text: str  # without quote prefix
    depth: int


def _lines(text: str) -> list[_Line]:
    out = []
    pos = 0
    for raw in text.split("\n"):
        end = pos + len(raw)
        m = _QUOTE_PREFIX.match(raw)
        depth = m.group(1).count(">") if m else 0
        body = raw[m.end() :] if m else raw
        out.append(_Line(pos, end, body.strip(), depth))
        pos = end + 1
    return out


def find_zones(
    text: str, sender: Author, is_colleague: IsColleague, *, detect_signature: bool = True
) -> tuple[ZoneSpan, ...]:
    """Cut a body into new text, signature and quoted blocks with their authors."""
    lines = _lines(text)
    n = len(lines)
    kinds: list[tuple[Zone, Author | None]] = [(Zone.NEW, None)] * n
    # Authors of ">" quotes, by depth: the attribution line at depth d names the
    # author of the lines at depth d+1 that follow it.
    attrib_by_depth: dict[int, Author] = {}
    outlook_author: Author | None = None
    outlook_depth = -1
    i = 0
    first_quote = n

    def ordinary(i: int) -> None:
        """A line that is no marker: quoted (by its depth or the header block above it) or new."""
        nonlocal first_quote
        ln = lines[i]
        if ln.depth > 0:
            author = attrib_by_depth.get(ln.depth - 1)
            if author is None and outlook_author is not None and ln.depth > outlook_depth:
                author = outlook_author
            kinds[i] = (Zone.QUOTED, author)
            first_quote = min(first_quote, i)
        elif outlook_author is not None:
            kinds[i] = (Zone.QUOTED, outlook_author)

    while i < n:
        ln = lines[i]
        if not _MAYBE_MARKER.match(ln.text):
            # Most lines: no attribution, header block or separator can start here.
            ordinary(i)
            i += 1
            continue
        # "On <date>, <name> <addr> wrote:" on one line or across two.
        joined = ln.text
        span = 1
        if (
            _ON_START.match(ln.text)
            and not _WROTE_END.search(ln.text)
            and i + 1 < n
            and lines[i + 1].depth == ln.depth
            and _WROTE_END.search(lines[i + 1].text)
        ):
            joined = ln.text + " " + lines[i + 1].text
            span = 2
        if _ON_WROTE.match(joined):
            author = _attribution_author(joined)
            attrib_by_depth[ln.depth] = author
            for k in range(i, i + span):
                kinds[k] = (Zone.QUOTE_HEADER, author)
            first_quote = min(first_quote, i)
            i += span
            continue
        # Outlook / forwarded header block: "From:" followed by "Sent:/To:/Subject:".
        m = _HEADER_FROM.match(ln.text)
        if m and any(_HEADER_NEXT.match(lines[k].text) for k in range(i + 1, min(n, i + 4))):
            author = _parse_author(m.group("value"))
            start = i
            if i > 0 and _SEPARATOR.match(lines[i - 1].text):
                start = i - 1
            k = i + 1
            # The header block: Sent/To/Cc/Subject lines (HTML renders blank lines between them).
            while (
                k < n
                and k <= i + 10
                and (
                    _HEADER_NEXT.match(lines[k].text)
                    or (not lines[k].text and k + 1 < n and _HEADER_NEXT.match(lines[k + 1].text))
                )
            ):
                k += 1
            for j in range(start, k):
                kinds[j] = (Zone.QUOTE_HEADER, author)
            outlook_author, outlook_depth = author, ln.depth
            first_quote = min(first_quote, start)
            i = k
            continue
        if _SEPARATOR.match(ln.text) and i + 1 < n and not lines[i + 1].text:
            first_quote = min(first_quote, i)
        ordinary(i)
        i += 1

    if detect_signature:
        _mark_signature(lines, kinds, first_quote)

    # Runs of lines with the same zone, author and owner become one span.
    runs: list[list] = []  # [start, end, zone, owner, author]
    owners: dict[tuple[Zone, Author | None], Owner] = {}
    for ln, kind in zip(lines, kinds, strict=True):
        owner = owners.get(kind)
        if owner is None:
            owner = owners[kind] = _owner(kind[0], kind[1], sender, is_colleague)
        end = ln.end + 1 if ln.end < len(text) else ln.end
        last = runs[-1] if runs else None
        if last is not None and last[2] == kind[0] and last[4] == kind[1] and last[3] == owner:
            last[1] = end
        else:
            runs.append([ln.start, end, kind[0], owner, kind[1]])
    return tuple(ZoneSpan(a, b, zone, owner, author) for a, b, zone, owner, author in runs)


def _mark_signature(
    lines: list[_Line], kinds: list[tuple[Zone, Author | None]], first_quote: int
) -> None:
    new_end = first_quote
    while new_end > 0 and not lines[new_end - 1].text:
        new_end -= 1
    # "-- " delimiter.
    for i in range(new_end):
        if lines[i].text in {"--", "-- "} and kinds[i][0] == Zone.NEW:
            for k in range(i, new_end):
                kinds[k] = (Zone.SIGNATURE, None)
            return
    # The last valediction with a short tail after it.
    for i in range(new_end - 1, -1, -1):
        if kinds[i][0] != Zone.NEW:
            continue
        if _VALEDICTION.match(lines[i].text):
            tail = [ln for ln in lines[i + 1 : new_end] if ln.text]
            if len(tail) <= 12:
                for k in range(i + 1, new_end):
                    kinds[k] = (Zone.SIGNATURE, None)
            return
    for i in range(new_end):
        if _SENT_FROM.match(lines[i].text):
            kinds[i] = (Zone.SIGNATURE, None)


def _owner(zone: Zone, author: Author | None, sender: Author, is_colleague: IsColleague) -> Owner:
    if zone in (Zone.NEW, Zone.SIGNATURE):
        return Owner.SCHOOL
    if author is None:
        # A quote with no attribution is, in practice, the correspondent's
        # message being answered.
        return Owner.CORRESPONDENT
    if (author.address and author.address == sender.address) or (
        sender.name and same_person(author.name, sender.name)
    ):
        return Owner.SCHOOL
    if is_colleague(author):
        return Owner.SCHOOL
    return Owner.CORRESPONDENT


# -- attachments -----------------------------------------------------------

_TEXT_EXTENSIONS = {
    ".txt",
    ".csv",
    ".ics",
    ".vcf",
    ".vcard",
    ".md",
    ".tsv",
    ".htm",
    ".html",
    ".eml",
    ".json",
    ".xml",
    ".rtf",
}
_FOLDED = re.compile(r"\r?\n[ \t]")


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def _unfold_calendar(text: str) -> str:
    """vCard and iCalendar fold long lines and escape commas; undo both."""
    text = _FOLDED.sub("", text)
    return text.replace("\\n", "\n").replace("\\N", "\n").replace("\\,", ",").replace("\\;", ";")


def _pdf_text(data: bytes, limits: ReadLimits, notes: list[str], name: str) -> str | None:
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = []
        for k, page in enumerate(reader.pages):
            if k >= limits.max_pdf_pages:
                notes.append(f"{name}: only the first {limits.max_pdf_pages} pages were read")
                return None
            pages.append(page.extract_text() or "")
        return "\n".join(pages)
    except Exception as exc:  # a broken PDF is unreadable, not fatal
        notes.append(f"{name}: PDF text could not be extracted ({type(exc).__name__})")
        return None


_DOCX_PARA = re.compile(rb"</w:p>")
_DOCX_TAG = re.compile(rb"<[^>]+>")


def _docx_text(data: bytes, notes: list[str], name: str) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            xml = z.read("word/document.xml")
    except Exception as exc:
        notes.append(f"{name}: document text could not be extracted ({type(exc).__name__})")
        return None
    import html

    text = _DOCX_TAG.sub(b"", _DOCX_PARA.sub(b"\n", xml)).decode("utf-8", errors="replace")
    return html.unescape(text)


# -- the walk ----------------------------------------------------------------


@dataclass(slots=True)
class _Builder:
    sender: Author
    is_colleague: IsColleague
    limits: ReadLimits
    segments: list[Segment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parts_seen: int = 0

    def add_text(
        self,
        part: str,
        text: str,
        *,
        zones: bool = True,
        author: Author | None = None,
        is_link: bool = False,
    ) -> None:
        if not text or not text.strip():
            return
        norm = normalize(text)
        if author is not None:
            owner = _owner(Zone.QUOTED, author, self.sender, self.is_colleague)
            whole = (ZoneSpan(0, len(norm.text), Zone.QUOTED, owner, author),)
            if not zones:
                self.segments.append(Segment(part, norm, whole, is_link))
                return
            sender, is_colleague = self.sender, self.is_colleague

            def cut_forwarded(text: str) -> tuple[ZoneSpan, ...]:
                inner = find_zones(text, sender, is_colleague, detect_signature=False)
                return tuple(
                    ZoneSpan(
                        z.start,
                        z.end,
                        Zone.QUOTED if z.zone in (Zone.NEW, Zone.SIGNATURE) else z.zone,
                        owner if z.zone in (Zone.NEW, Zone.SIGNATURE) else z.owner,
                        z.author or author,
                    )
                    for z in inner
                )

            self.segments.append(Segment(part, norm, is_link=is_link, cut=cut_forwarded))
        elif zones:
            self.segments.append(
                Segment(
                    part,
                    norm,
                    is_link=is_link,
                    cut=functools.partial(
                        find_zones, sender=self.sender, is_colleague=self.is_colleague
                    ),
                )
            )
        else:
            self.segments.append(
                Segment(part, norm, (ZoneSpan(0, len(norm.text), Zone.NEW, Owner.SCHOOL),), is_link)
            )

    def walk(
        self, msg: Message, depth: int, forwarded_by: Author | None, label_prefix: str | None
    ) -> None:
        self.parts_seen += 1
        if self.parts_seen > self.limits.max_parts:
            raise UnreadableMessage(f"more than {self.limits.max_parts} MIME parts")
        if depth > self.limits.max_depth:
            raise UnreadableMessage(f"MIME parts nested deeper than {self.limits.max_depth}")
        ctype = msg.get_content_type()
        if msg.is_multipart():
            payload = msg.get_payload()
            if not isinstance(payload, list):
                payload = []
            for sub in payload:
                if isinstance(sub, Message):
                    self.walk(sub, depth + 1, forwarded_by, label_prefix)
            return
        filename = decode_header(msg.get_filename()) if msg.get_filename() else ""
        disposition = (msg.get("Content-Disposition") or "").split(";")[0].strip().lower()
        if ctype == "message/rfc822" or (
            ctype.startswith("message/") and isinstance(msg.get_payload(), list)
        ):
            inner = msg.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            name = filename or "forwarded message"
            if isinstance(inner_msg, Message):
                self._forwarded(inner_msg, depth + 1, name)
            return
        payload_bytes = msg.get_payload(decode=True) or b""
        if not isinstance(payload_bytes, bytes):
            payload_bytes = str(payload_bytes).encode("utf-8", "replace")
        is_attachment = bool(filename) or disposition == "attachment"
        label_name = filename or ctype
        # Inside a forwarded message every part carries the forwarded message's label.
        part_label = label_prefix or (f"attachment:{label_name}" if is_attachment else None)
        charset = msg.get_content_charset()
        ext = _extension(filename)
        if ctype == "text/html" or ext in {".htm", ".html"}:
            html_src = decode_text(payload_bytes, charset, self.notes)
            rendered = render_html(html_src)
            label = part_label or "html"
            self.add_text(label, rendered.visible, author=forwarded_by)
            self.add_text(label, rendered.hidden, author=forwarded_by)
            for link in rendered.links:
                self.add_text(label, link.target, zones=False, author=forwarded_by, is_link=True)
            if is_attachment:
                self.attachments.append(Attachment(label_name, ctype, len(payload_bytes), True))
            return
        if ctype.startswith("text/") or ext in _TEXT_EXTENSIONS:
            text = decode_text(payload_bytes, charset, self.notes)
            if ctype in {
                "text/calendar",
                "text/vcard",
                "text/x-vcard",
                "text/directory",
            } or ext in {".ics", ".vcf", ".vcard"}:
                text = _unfold_calendar(text)
                self.add_text(part_label or "body", text, zones=False, author=forwarded_by)
            else:
                self.add_text(part_label or "body", text, author=forwarded_by)
            if is_attachment:
                self.attachments.append(Attachment(label_name, ctype, len(payload_bytes), True))
            return
        scanned = False
        if len(payload_bytes) > self.limits.max_attachment_bytes:
            self.notes.append(
                f"{label_name}: larger than {self.limits.max_attachment_bytes} bytes, not read"
            )
        elif ctype == "application/pdf" or ext == ".pdf":
            extracted = _pdf_text(payload_bytes, self.limits, self.notes, label_name)
            if extracted is not None:
                self.add_text(
                    part_label or f"attachment:{label_name}",
                    extracted,
                    zones=False,
                    author=forwarded_by,
                )
                scanned = True
        elif (
            ext == ".docx"
            or ctype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        ):
            extracted = _docx_text(payload_bytes, self.notes, label_name)
            if extracted is not None:
                self.add_text(
                    part_label or f"attachment:{label_name}",
                    extracted,
                    zones=False,
                    author=forwarded_by,
                )
                scanned = True
        self.attachments.append(Attachment(label_name, ctype, len(payload_bytes), scanned))

    def _forwarded(self, inner: Message, depth: int, name: str) -> None:
        authors = _addresses(inner.get_all("From") or [])
        author = authors[0] if authors else Author("", "")
        label = f"attachment:{name}"
        self.add_text(label, decode_header(inner.get("Subject")), zones=False, author=author)
        self.walk(inner, depth, author, label)


# The first blank line: a line ending right after another (or at the very
# start), line endings being CRLF, a lone CR or a lone LF as the parser sees them.
_HEADER_END = re.compile(r"(?:\r\n|\r(?!\n)|(?<!\r)\n)(?:\r\n|\r|\n)")


# A header that declares parts or a message inside: parsed in full straight away
# (a declaration this misses is caught after the headers are parsed).
_NESTED_TYPE = re.compile(r"^content-type:\s*(?:multipart|message)/", re.IGNORECASE | re.MULTILINE)


def parse_bytes(raw: bytes) -> Message:
    """``email.message_from_bytes(raw)``, without walking a one-part body line by line.

    The parser hands a non-multipart, non-message body over whole, but reads it
    one line at a time to get there (160 steps for a 10 KB letter). When the
    headers alone parse cleanly and declare such a body, the body is set as it
    would have been; anything else is parsed in full.
    """
    text = raw.decode("ascii", "surrogateescape")  # what BytesParser does first
    m = _HEADER_END.search(text)
    if (
        m is None
        or m.start() == 0
        or text.startswith("From ")
        or _NESTED_TYPE.search(text, 0, m.start())
    ):
        return email.message_from_string(text)
    msg = email.message_from_string(text[: m.end()])
    if msg.defects or msg.get_payload() or msg.get_content_maintype() in ("multipart", "message"):
        return email.message_from_string(text)
    msg.set_payload(text[m.end() :])
    return msg


def read_message(
    raw: bytes, is_colleague: IsColleague = lambda a: False, limits: ReadLimits | None = None
) -> MessageView:
    """Read raw RFC 5322 bytes as a person would. Raises ``UnreadableMessage``."""
    limits = limits or ReadLimits()
    try:
        # compat32 is an order of magnitude faster than policy.default and never
        # raises on odd headers; headers are decoded here, not by the parser.
        msg = parse_bytes(raw)
    except RecursionError as exc:
        raise UnreadableMessage("MIME structure too deeply nested to parse") from exc
    senders = _addresses(msg.get_all("From") or [])
    sender = senders[0] if senders else Author("", "")
    builder = _Builder(sender=sender, is_colleague=is_colleague, limits=limits)
    subject = decode_header(msg.get("Subject"))
    builder.add_text("subject", subject, zones=False)
    for header in ("From", "Reply-To", "Sender"):
        for value in msg.get_all(header) or []:
            builder.add_text(f"header:{header}", decode_header(value), zones=False)
    try:
        builder.walk(msg, 0, None, None)
    except RecursionError as exc:
        raise UnreadableMessage("MIME structure too deeply nested to read") from exc
    for defect in msg.defects:
        builder.notes.append(f"MIME defect: {type(defect).__name__}")
    date = None
    if msg.get("Date"):
        try:
            date = email.utils.parsedate_to_datetime(decode_header(msg.get("Date")))
        except (TypeError, ValueError, IndexError):
            builder.notes.append("Date header could not be parsed")
    return MessageView(
        sender=sender,
        reply_to=_addresses(msg.get_all("Reply-To") or []),
        to=_addresses(msg.get_all("To") or []),
        cc=_addresses(msg.get_all("Cc") or []),
        bcc=_addresses(msg.get_all("Bcc") or []),
        subject=subject,
        date=date,
        message_id=decode_header(msg.get("Message-ID")).strip(),
        segments=tuple(builder.segments),
        attachments=tuple(builder.attachments),
        notes=tuple(builder.notes),
        hidden_characters=sum(s.text.hidden_characters for s in builder.segments),
    )
