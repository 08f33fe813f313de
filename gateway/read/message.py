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

import bisect
import dataclasses
import email
import email.header
import email.policy
import email.utils
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from enum import Enum

from nicknames import NickNamer

from gateway.read.boundaries import recover_parts
from gateway.read.charsets import decode_text, unescape_8bit
from gateway.read.documents import extension, extract
from gateway.read.headers import (
    decode_header,
    disposition,
    filename,
    header,
    raw_values,
)
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

    __slots__ = (
        "part",
        "text",
        "is_link",
        "_zones",
        "_cut",
        "_spaced",
        "_distinct",
        "_words",
        "_starts",
        "echo",
    )

    def __init__(
        self,
        part: str,
        text: NormalizedText,
        zones: tuple[ZoneSpan, ...] | None = None,
        is_link: bool = False,
        *,
        cut: Callable[[str], tuple[ZoneSpan, ...]] | None = None,
        echo: bool = False,
    ) -> None:
        if (zones is None) == (cut is None):
            raise ValueError("a Segment needs either its zones or a way to cut them")
        self.part = part  # subject | body | html | attachment:NAME | header:NAME
        self.text = text
        self.is_link = is_link  # an href target, not running text
        # The HTML half of multipart/alternative saying word for word what the text
        # half says: read once, as the text half (its links are segments of their own).
        self.echo = echo
        self._zones = zones
        self._cut = cut
        self._spaced: bytes | None = None
        self._distinct: set[bytes] | None = None
        self._words: frozenset[str] | None = None
        self._starts: list[int] | None = None

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
        """The zone holding ``index`` (the last zone if none does): a binary search,
        since a long thread has thousands of zones and every candidate asks."""
        zones = self.zones
        if not zones:
            return ZoneSpan(0, 0, Zone.NEW, Owner.SCHOOL)
        if self._starts is None:
            self._starts = [z.start for z in zones]
        k = bisect.bisect_right(self._starts, index) - 1
        # Zones are sorted and do not overlap; the one starting at or before
        # ``index`` is the only one that can hold it.
        if k >= 0 and zones[k].start <= index < zones[k].end:
            return zones[k]
        return zones[-1]


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content_type: str
    size: int
    scanned: bool


@dataclass(frozen=True, slots=True)
class Unread:
    """A part a mail program would show (or open) that the gateway could not read."""

    part: str  # "attachment:report.odt", "body"...
    kind: str  # encrypted | document (nothing reads it) | failed (reading it failed) | media
    reason: str

    def describe(self) -> str:
        return f"{self.part}: {self.reason}"


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
    unread: tuple[Unread, ...] = ()
    # The addresses a delivery or read report says it is about (Final-Recipient ...):
    # in the mail system's report they are the failed recipient's, not the sender's.
    reported: frozenset[str] = frozenset()

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
    """The same full name, in either order, or with the first name in another of its
    forms ("Becky Okafor" is "Rebecca Okafor": the nicknames package's list)."""
    ka, kb = _name_key(a), _name_key(b)
    if len(ka) < 2 or len(ka) != len(kb):
        return False
    if ka == kb:
        return True
    only_a, only_b = ka - kb, kb - ka
    if len(only_a) != 1 or len(only_b) != 1:
        return False
    return _interchangeable(next(iter(only_a)), next(iter(only_b)))


@functools.cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@functools.lru_cache(maxsize=4096)
def _interchangeable(x: str, y: str) -> bool:
    """Whether two given names are forms of one ("rebecca", "becky"), either way round."""
    nn = _nicknamer()
    return y in nn.nicknames_of(x) | nn.canonicals_of(x) or x in nn.nicknames_of(y)


# -- decoding ----------------------------------------------------------------


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
    # An attribution whose quote lost its indentation (HTML quoting flattened, a
    # client that does not prefix): the lines at its own depth that follow it,
    # until a deeper line shows the quote is indented after all.
    flat_by_depth: dict[int, Author] = {}
    outlook_author: Author | None = None
    outlook_depth = -1
    i = 0
    first_quote = n

    def ordinary(i: int) -> None:
        """A line that is no marker: quoted (by its depth or the header block above it) or new."""
        nonlocal first_quote
        ln = lines[i]
        if ln.depth > 0 or ln.depth in flat_by_depth:
            flat_by_depth.pop(ln.depth - 1, None)  # the quote above is indented after all
            author = flat_by_depth.get(ln.depth) or attrib_by_depth.get(ln.depth - 1)
            if author is None and outlook_author is not None and ln.depth > outlook_depth:
                author = outlook_author
            kinds[i] = (Zone.QUOTED, author)
            first_quote = min(first_quote, i)
        elif outlook_author is not None and outlook_depth == 0:
            # An unprefixed header block ("-----Original Message-----", "From:",
            # "Sent:") quotes everything below it; one quoted with ">" claims
            # only ">" lines, and unprefixed text after it is new writing.
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
            flat_by_depth[ln.depth] = author
            for deeper in [d for d in flat_by_depth if d > ln.depth]:
                del flat_by_depth[deeper]
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


# A postscript after the signature is the sender writing again, not their card.
_POSTSCRIPT = re.compile(r"^\s*(?:p\.?\s?p\.?\s?s|p\.?\s?s)\b\.?\s*[:,-]?", re.IGNORECASE)


def _mark_signature(
    lines: list[_Line], kinds: list[tuple[Zone, Author | None]], first_quote: int
) -> None:
    _mark_signature_block(lines, kinds, first_quote)
    in_signature = False
    for i in range(first_quote):
        if kinds[i][0] == Zone.SIGNATURE and _POSTSCRIPT.match(lines[i].text):
            in_signature = True
        if in_signature:
            if kinds[i][0] != Zone.SIGNATURE:
                break
            kinds[i] = (Zone.NEW, None)


def _mark_signature_block(
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

# A message inside a message: its author's words, not the sender's (a forwarded
# club letter's secretary's mobile is the club's).
_FORWARDED = frozenset({"message/rfc822", "message/global"})

# The machine-readable part of a delivery status notification (RFC 3464, 6533)
# or a read receipt (RFC 8098), and its fields that name whom it reports on.
_REPORT_STATUS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
    }
)
_REPORTED_FIELDS = frozenset(
    {"final-recipient", "original-recipient", "x-actual-recipient", "x-postfix-sender"}
)

_TABLES = frozenset({"text/csv", "text/tab-separated-values"})


def _readable_header(text: str) -> str:
    """A spreadsheet's header row as a person reads it: "personal_mobile" is
    "personal mobile" (the same length, so every offset stays where it was)."""
    first, nl, rest = text.partition("\n")
    return first.replace("_", " ") + nl + rest


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
_CALENDARS = {"text/calendar", "text/vcard", "text/x-vcard", "text/directory"}
# Detached signatures (RFC 1847 multipart/signed): checked by the recipient's program, never shown.
_SIGNATURES = {
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
}


def _unfold_calendar(text: str) -> str:
    """vCard and iCalendar fold long lines and escape commas; undo both. An event
    reads as a calendar program shows it: "Invitation: <summary>", "Where: ...",
    then its description (every other line is kept as written)."""
    text = _FOLDED.sub("", text)
    text = text.replace("\\n", "\n").replace("\\N", "\n").replace("\\,", ",").replace("\\;", ";")
    if "BEGIN:VEVENT" in text.upper():
        text = _EVENT_FIELD.sub(lambda m: _EVENT_SHOWN[m.group(1).upper()], text)
    return text


_EVENT_FIELD = re.compile(r"(?im)^(SUMMARY|LOCATION|DESCRIPTION)(?:;[^:\r\n]*)?:")
_EVENT_SHOWN = {"SUMMARY": "Invitation: ", "LOCATION": "Where: ", "DESCRIPTION": ""}


# -- the walk ----------------------------------------------------------------


@dataclass(slots=True)
class _Builder:
    sender: Author
    is_colleague: IsColleague
    limits: ReadLimits
    segments: list[Segment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unread: list[Unread] = field(default_factory=list)
    parts_seen: int = 0
    # What the text bodies said, and by whom: an HTML body saying the same is an echo.
    said: set[tuple[Author | None, str]] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)

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
        echo = False
        if part in ("body", "html") and zones and not is_link:
            said = (author, norm.text.strip())
            if part == "body":
                self.said.add(said)
            else:
                echo = said in self.said
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

            self.segments.append(Segment(part, norm, is_link=is_link, cut=cut_forwarded, echo=echo))
        elif zones:
            self.segments.append(
                Segment(
                    part,
                    norm,
                    is_link=is_link,
                    cut=functools.partial(
                        find_zones, sender=self.sender, is_colleague=self.is_colleague
                    ),
                    echo=echo,
                )
            )
        else:
            self.segments.append(
                Segment(part, norm, (ZoneSpan(0, len(norm.text), Zone.NEW, Owner.SCHOOL),), is_link)
            )

    def add_subject(self, subject: str) -> None:
        """The subject is the sender's words, unless it is a reply's or a forward's
        ("Re: can you keep this secret"): then what follows the prefix was written
        by whoever wrote the first message quoted in the body, if that was not the
        school (a reply quoting no one keeps the subject the sender's), and if
        the quote bears it out (``_subject_was_theirs``)."""
        prefix = _REPLY_PREFIX.match(subject)
        if prefix is None:
            self.add_text("subject", subject, zones=False)
            return
        if not subject.strip():
            return
        norm = normalize(subject)
        start = len(normalize(subject[: prefix.end()]).text)

        def cut(text: str) -> tuple[ZoneSpan, ...]:
            new = ZoneSpan(0, len(text), Zone.NEW, Owner.SCHOOL)
            quoted = next(
                (
                    z
                    for seg in self.segments
                    if seg.part in ("body", "html") and not seg.is_link
                    for z in seg.zones
                    if z.zone == Zone.QUOTED
                ),
                None,
            )
            if quoted is None or quoted.owner == Owner.SCHOOL or start >= len(text):
                return (new,)
            if not _subject_was_theirs(text[start:], self._their_quoted_text()):
                return (new,)
            return (
                ZoneSpan(0, start, Zone.NEW, Owner.SCHOOL),
                ZoneSpan(start, len(text), Zone.QUOTED, quoted.owner, quoted.author),
            )

        self.segments.append(Segment("subject", norm, cut=cut))

    def _their_quoted_text(self) -> str:
        """What the body quotes of others' words, attribution lines included."""
        return "\n".join(
            seg.text.text[z.start : z.end]
            for seg in self.segments
            if seg.part in ("body", "html") and not seg.is_link
            for z in seg.zones
            if z.zone in (Zone.QUOTED, Zone.QUOTE_HEADER) and z.owner != Owner.SCHOOL
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
        if ctype == "multipart/encrypted":
            self.unread.append(Unread(label_prefix or "body", "encrypted", "encrypted (PGP/MIME)"))
            return
        if msg.is_multipart() and ctype not in _FORWARDED and ctype not in _REPORT_STATUS:
            payload = msg.get_payload()
            subs = (
                [s for s in payload if isinstance(s, Message)] if isinstance(payload, list) else []
            )
        elif ctype.startswith("multipart/"):
            recovered = recover_parts(msg)
            if recovered is None:
                # What mail programs do with a multipart they cannot split: show it as text.
                self.notes.append(f"{ctype} without a usable boundary: read as text")
                self._leaf(msg, "text/plain", depth, forwarded_by, label_prefix)
                return
            self.notes.append(f"{ctype}: parts found by the boundary as written")
            subs = recovered
        else:
            self._leaf(msg, ctype, depth, forwarded_by, label_prefix)
            return
        # Preamble and epilogue are outside every part, but some programs show them.
        for extra in (msg.preamble, msg.epilogue):
            if extra and extra.strip():
                self.add_text(label_prefix or "body", unescape_8bit(extra), author=forwarded_by)
        for sub in subs:
            self.walk(sub, depth + 1, forwarded_by, label_prefix)

    def _leaf(
        self,
        msg: Message,
        ctype: str,
        depth: int,
        forwarded_by: Author | None,
        label_prefix: str | None,
    ) -> None:
        """One part; whatever goes wrong reading it is that part's, and the others are still read."""
        fname = filename(msg)
        is_attachment = bool(fname) or disposition(msg) == "attachment"
        attached = is_attachment or not ctype.startswith("text/")
        label = label_prefix or (f"attachment:{fname or ctype}" if attached else "body")
        try:
            self._read_leaf(msg, ctype, fname, is_attachment, depth, forwarded_by, label_prefix)
        except (UnreadableMessage, RecursionError):
            raise
        except Exception as exc:  # noqa: BLE001 - this part is unreadable; the message is not
            self.unread.append(
                Unread(label or "body", "failed", f"could not be read ({type(exc).__name__})")
            )

    def _read_leaf(
        self,
        msg: Message,
        ctype: str,
        fname: str,
        is_attachment: bool,
        depth: int,
        forwarded_by: Author | None,
        label_prefix: str | None,
    ) -> None:
        if ctype in _REPORT_STATUS:
            self._report_status(msg, label_prefix or "body")
            return
        if ctype == "text/rfc822-headers":  # a returned message's headers: its author's
            data = msg.get_payload(decode=True)
            text = decode_text(
                data if isinstance(data, bytes) else b"", msg.get_content_charset(), self.notes
            )
            authors = _addresses(raw_values(email.message_from_string(text), "From"))
            self.add_text(
                label_prefix or "attachment:returned headers",
                text,
                zones=False,
                author=authors[0] if authors else Author("", ""),
            )
            return
        if ctype in _FORWARDED or (
            ctype.startswith("message/") and isinstance(msg.get_payload(), list)
        ):
            inner = msg.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            name = fname or "forwarded message"
            if isinstance(inner_msg, Message):
                self._forwarded(inner_msg, depth + 1, name)
            return
        payload_bytes = msg.get_payload(decode=True) or b""
        if not isinstance(payload_bytes, bytes):
            payload_bytes = str(payload_bytes).encode("utf-8", "replace")
        label_name = fname or ctype
        # Inside a forwarded message every part carries the forwarded message's label.
        part_label = label_prefix or (f"attachment:{label_name}" if is_attachment else None)
        charset = msg.get_content_charset()
        ext = extension(fname)
        if ctype == "text/html" or ext in {".htm", ".html"}:
            self._html(
                decode_text(payload_bytes, charset, self.notes), part_label or "html", forwarded_by
            )
            if is_attachment:
                self.attachments.append(Attachment(label_name, ctype, len(payload_bytes), True))
            return
        if ctype.startswith("text/") or ext in _TEXT_EXTENSIONS:
            self._text(
                decode_text(payload_bytes, charset, self.notes),
                ctype,
                ext,
                part_label or "body",
                forwarded_by,
            )
            if is_attachment:
                self.attachments.append(Attachment(label_name, ctype, len(payload_bytes), True))
            return
        if ctype in _SIGNATURES:  # a detached signature: nothing a person reads
            return
        scanned = self._document(
            label_name,
            ctype,
            payload_bytes,
            part_label or f"attachment:{label_name}",
            forwarded_by,
            depth,
            label_prefix,
        )
        self.attachments.append(Attachment(label_name, ctype, len(payload_bytes), scanned))

    def _html(self, source: str, label: str, forwarded_by: Author | None) -> None:
        rendered = render_html(source)
        self.add_text(label, rendered.visible, author=forwarded_by)
        self.add_text(label, rendered.hidden, author=forwarded_by)
        for link in rendered.links:
            self.add_text(label, link.target, zones=False, author=forwarded_by, is_link=True)

    def _text(
        self, text: str, ctype: str, ext: str, label: str, forwarded_by: Author | None
    ) -> None:
        if ctype in _CALENDARS or ext in {".ics", ".vcf", ".vcard"}:
            self.add_text(label, _unfold_calendar(text), zones=False, author=forwarded_by)
        elif ctype in _TABLES or ext in {".csv", ".tsv"}:
            self.add_text(label, _readable_header(text), author=forwarded_by)
        else:
            self.add_text(label, text, author=forwarded_by)

    def _document(
        self,
        name: str,
        ctype: str,
        data: bytes,
        label: str,
        forwarded_by: Author | None,
        depth: int,
        label_prefix: str | None,
    ) -> bool:
        """An attachment of any type: its text read, its contents opened, or recorded as unread."""
        if len(data) > self.limits.max_attachment_bytes:
            self.unread.append(
                Unread(
                    label,
                    "document",
                    f"larger than {self.limits.max_attachment_bytes} bytes, not read",
                )
            )
            return False
        got = extract(name, ctype, data, max_bytes=self.limits.max_attachment_bytes)
        if got.kind == "media":
            self.unread.append(Unread(label, "media", got.reason or "media (not read)"))
            return False
        if got.kind == "encrypted":
            self.unread.append(Unread(label, "encrypted", got.reason or "encrypted"))
            return False
        read = False
        if got.text is not None:
            if got.kind == "text" and (
                "<html" in got.text[:2000].lower() or name.lower().endswith(".htm")
            ):
                self._html(got.text, label, forwarded_by)
            else:
                self.add_text(label, got.text, zones=False, author=forwarded_by)
            read = True
        for member_name, member in got.members:
            if depth >= self.limits.max_depth:
                raise UnreadableMessage(f"attachments nested deeper than {self.limits.max_depth}")
            if got.kind == "smime-signed":
                # The signed content is the message itself, as every client shows it.
                self.walk(parse_bytes(member), depth + 1, forwarded_by, label_prefix)
            elif member_name.lower().endswith(".eml"):
                self._forwarded(parse_bytes(member), depth + 1, member_name)
            else:
                self._document(
                    member_name,
                    "",
                    member,
                    f"{label}/{member_name}",
                    forwarded_by,
                    depth + 1,
                    label_prefix,
                )
            read = True
        if got.text is None and not got.members:
            self.unread.append(
                Unread(
                    label,
                    "failed" if got.kind != "unknown" else "document",
                    got.reason or "no reader for this type",
                )
            )
        return read

    def _report_status(self, msg: Message, label: str) -> None:
        """A delivery or read report's machine-readable part: every field is read, in
        the sender's voice (a report can be forged), and the addresses it reports on
        are noted; whether they are the mail system's to name is the judge's to say."""
        payload = msg.get_payload()
        blocks: list[list[tuple[str, str]]] = []
        # The parser splits some kinds into header blocks, reads others as one
        # message (its first block the headers, the rest a body), and leaves
        # the global (UTF-8) kinds as text.
        rest = [payload] if isinstance(payload, str) else []
        for block in payload if isinstance(payload, list) else []:
            if isinstance(block, Message):
                blocks.append(block.items())
                if isinstance(body := block.get_payload(), str):
                    rest.append(body)
        for text in rest:
            blocks.extend(email.message_from_string(b).items() for b in re.split(r"\n\s*\n", text))
        lines = []
        for items in blocks:
            for name, value in items:
                value = decode_header(str(value))
                lines.append(f"{name}: {value}")
                if name.lower() in _REPORTED_FIELDS:
                    address = value.split(";", 1)[-1].strip().strip("<>").lower()
                    if "@" in address:
                        self.reported.add(address)
        self.add_text(label, "\n".join(lines), zones=False)

    def _forwarded(self, inner: Message, depth: int, name: str) -> None:
        authors = _addresses(raw_values(inner, "From"))
        author = authors[0] if authors else Author("", "")
        label = f"attachment:{name}"
        self.add_text(label, header(inner, "Subject"), zones=False, author=author)
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


# -- say it once: the HTML half of what the text half already said -----------

# A line's quote markers, taken off before the halves are compared: the text half
# quotes with "> " and the HTML half may nest an attribution a level deeper.
_MARKERS = re.compile(r"(?m)^[ \t]*(?:>[ \t]*)+")
_RUN = re.compile(r"\s+")
_BLOCK_BREAK = re.compile(r"\n(?:[ \t>]*\n)+")
_NOT_NEWLINE = re.compile(r"[^\n]")


def _plain_words(text: str) -> str:
    """``text`` without quote markers, each run of whitespace one space, padded by
    spaces: a block is said already where its form is a substring of another's."""
    return " " + _RUN.sub(" ", _MARKERS.sub(" ", text)).strip() + " "


def _said_by_zone(segments: list[Segment]) -> dict[tuple, str]:
    """What the text bodies said, per zone kind, owner and author."""
    said: dict[tuple, list[str]] = {}
    for seg in segments:
        for z in seg.zones:
            key = (z.zone, z.owner, z.author)
            said.setdefault(key, []).append(_plain_words(seg.text.text[z.start : z.end]))
    return {key: "".join(parts) for key, parts in said.items()}


def _blocks(text: str) -> list[tuple[int, int]]:
    """The paragraphs of ``text`` (a line of quote markers alone parts them too)."""
    out, start = [], 0
    for m in _BLOCK_BREAK.finditer(text):
        if m.start() > start:
            out.append((start, m.start()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out


def _unsaid(html: Segment, said: dict[tuple, str]) -> Segment:
    """``html`` with each paragraph the text half said, in the same zone and by the
    same author, blanked out (an echo when every one was). A paragraph beside one
    that is new is kept, so what the HTML adds is read in its setting."""
    text = html.text.text
    blocks = _blocks(text)
    new = []
    for a, b in blocks:
        z = html.zone_at(a)
        form = _plain_words(text[a:b])
        within = z.start <= a and b <= z.end
        new.append(
            not (within and form.strip() and form in said.get((z.zone, z.owner, z.author), ""))
        )
    if not any(new):
        return Segment(html.part, html.text, html.zones, html.is_link, echo=True)
    keep = [
        new[k] or (k > 0 and new[k - 1]) or (k + 1 < len(new) and new[k + 1])
        for k in range(len(blocks))
    ]
    if all(keep):
        return html
    pieces, last = [], 0
    for (a, b), kept in zip(blocks, keep, strict=True):
        if not kept:
            pieces.append(text[last:a])
            pieces.append(_NOT_NEWLINE.sub(" ", text[a:b]))
            last = b
    pieces.append(text[last:])
    blanked = dataclasses.replace(html.text, text="".join(pieces))
    return Segment(html.part, blanked, html.zones, html.is_link)


def say_once(segments: list[Segment]) -> list[Segment]:
    """Each HTML body is read for what its text half did not already say.

    Mail programs send one letter twice, as text and as HTML, and the two differ
    in wrapping, quote markers and spacing, so they are seldom equal word for
    word; scanning both doubles the work of most mail. A paragraph of the HTML
    whose words the text bodies hold in a zone of the same kind, owner and
    author was read there, with its surroundings; only the rest (and its
    neighbours) is read in the HTML. Offsets and zones are the HTML's own, so
    what is found still points into it.
    """
    bodies = [s for s in segments if s.part == "body" and not s.is_link]
    if not bodies or not any(s.part == "html" and not s.is_link and not s.echo for s in segments):
        return segments
    said = _said_by_zone(bodies)
    return [
        _unsaid(s, said) if s.part == "html" and not s.is_link and not s.echo else s
        for s in segments
    ]


# The subject line of a quoted header block ("Subject: Science club"), and the
# lines after it in case it wrapped.
_QUOTED_SUBJECT = re.compile(
    r"^[\s>*]*(?:subject|betreff|objet|onderwerp|asunto)\*?\s*:\s*(.*\S(?:\n[ \t>]*\S.*){0,2})",
    re.IGNORECASE | re.MULTILINE,
)
# What in a subject is a detail someone gives: an address, or a run of seven digits or more.
_SUBJECT_DETAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\+?\d(?:[\s().-]?\d){6,}")


def _subject_was_theirs(rest: str, quoted: str) -> bool:
    """Whether a reply's subject (after "Re:") is still the words of the message
    it replies to. Where the quote shows that message's subject, the two must
    agree; where it does not, an address or number in the subject must appear in
    the quote: a detail the original never gave was added by the one replying."""
    flat = _letters(rest)
    shown = [_letters(_strip_prefix(m.group(1))) for m in _QUOTED_SUBJECT.finditer(quoted)]
    if shown:  # the line may wrap, and the text below it may follow: the reply's is its start
        return any(s.startswith(flat) for s in shown)
    digits = re.sub(r"\D", "", quoted)
    low = quoted.lower()
    for m in _SUBJECT_DETAIL.finditer(rest):
        detail = m.group(0)
        if "@" in detail:
            if detail.lower() not in low:
                return False
        elif re.sub(r"\D", "", detail) not in digits:
            return False
    return True


def _letters(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def _strip_prefix(subject: str) -> str:
    m = _REPLY_PREFIX.match(subject)
    return subject[m.end() :] if m else subject


# "Re:", "RE: Fwd:", "AW:", "SV:", "Fw[2]:": a subject taken from the message replied to.
_REPLY_PREFIX = re.compile(
    r"\s*(?:(?:re|aw|sv|antw|fwd?|tr|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)


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
    senders = _addresses(raw_values(msg, "From"))
    sender = senders[0] if senders else Author("", "")
    builder = _Builder(sender=sender, is_colleague=is_colleague, limits=limits)
    subject = header(msg, "Subject")
    builder.add_subject(subject)
    for name in ("From", "Reply-To", "Sender"):
        for value in raw_values(msg, name):
            builder.add_text(f"header:{name}", decode_header(value), zones=False)
    try:
        builder.walk(msg, 0, None, None)
    except RecursionError as exc:
        raise UnreadableMessage("MIME structure too deeply nested to read") from exc
    for defect in msg.defects:
        builder.notes.append(f"MIME defect: {type(defect).__name__}")
    date = None
    date_header = header(msg, "Date")
    if date_header:
        try:
            date = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            builder.notes.append("Date header could not be parsed")
    return MessageView(
        sender=sender,
        reply_to=_addresses(raw_values(msg, "Reply-To")),
        to=_addresses(raw_values(msg, "To")),
        cc=_addresses(raw_values(msg, "Cc")),
        bcc=_addresses(raw_values(msg, "Bcc")),
        subject=subject,
        date=date,
        message_id=header(msg, "Message-ID").strip(),
        segments=tuple(say_once(builder.segments)),
        attachments=tuple(builder.attachments),
        notes=tuple(builder.notes),
        hidden_characters=sum(s.text.hidden_characters for s in builder.segments),
        unread=tuple(builder.unread),
        reported=frozenset(builder.reported),
    )
