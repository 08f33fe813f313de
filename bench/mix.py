"""A school's day of outbound mail, generated: the benchmarks' default load.

``day_of_mail(n, seed)`` returns ``n`` distinct messages from a member of
staff to a parent, in the proportions of ``SHAPES``, in a shuffled order;
the same ``n`` and ``seed`` always give the same bytes. Every message is
clean: it should pass the scanner (a held copy would measure the store and
the notices, not the scan), so when one is held its wording is what to
change, never detection.

The shapes are what real mail programs send, since that is what the reader
and the detectors pay for: plain letters; Outlook's HTML (Word's markup,
MsoNormal paragraphs, ``<o:p>``, ``&nbsp;`` spacers, tables with inline
styles, the school logo as a related image part); Gmail's HTML (``<div
dir="ltr">``); replies carrying several levels of history, quoted the way
Gmail quotes ("On ... wrote:" and ``gmail_quote`` blockquotes) and the way
Outlook does (a "From:/Sent:/To:/Subject:" block under a rule); a ~50 KB
newsletter of many sections and links; a letter with a PDF or a Word
document attached (both built here, small and valid); and, now and then, a
letter carrying ~1 MB of photos.

The words come from sentence templates about school life with dates,
times, prices, rooms and the switchboard's number in the signature, since
a detector must look at every digit group and mask what is not a phone.
"""

from __future__ import annotations

import base64
import html
import io
import quopri
import random
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

STAFF = "t.teacher@heartofengland.example"
STAFF_NAME = "Tess Teacher"
PARENT = "parent.one@gmail.com"
PARENT_NAME = "Sarah Patel"

_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
_MONTHS = ["September", "October", "November", "December", "January", "February", "March"]
_CHILDREN = ["Alfie", "Amelia", "Arjun", "Ava", "Oliver", "Isla", "Noah", "Freya", "Zain", "Maya"]
_STAFF = ["Mr Hughes", "Mrs Okafor", "Ms Chen", "Mr Grant", "Miss Ward", "Dr Ahmed"]
_SUBJECTS = [
    "maths",
    "English",
    "science",
    "geography",
    "history",
    "French",
    "music",
    "PE",
    "art",
    "drama",
    "computing",
    "design and technology",
]
_TOPICS = [
    "fractions and percentages",
    "the water cycle",
    "Macbeth",
    "the Norman conquest",
    "electric circuits",
    "volcanoes and earthquakes",
    "persuasive writing",
    "programming in Python",
    "the periodic table",
    "coastal erosion",
    "still life drawing",
    "rhythm and pulse",
]
_EVENTS = [
    "the museum trip",
    "parents' evening",
    "the Year 9 options evening",
    "sports day",
    "the winter concert",
    "the book fair",
    "the science fair",
    "the Duke of Edinburgh practice walk",
    "the mock exams",
    "the school play",
    "the charity bake sale",
    "the careers fair",
]
_ITEMS = [
    "a packed lunch",
    "a waterproof coat",
    "their PE kit",
    "a scientific calculator",
    "a reading book",
    "a water bottle",
    "a pencil case",
    "sensible shoes",
]
_PLACES = ["the main hall", "the sports hall", "the library", "the drama studio", "the canteen"]
_PLATFORMS = ["Google Classroom", "ParentPay", "Arbor", "ClassCharts", "Microsoft Teams"]
_SPORTS = ["netball", "football", "cross-country", "hockey", "athletics", "basketball"]

# Staff's sentences to parents. Each {slot} is filled from the lists above.
_SENTENCES = [
    "The homework for this week is on {platform} and is due on {day}.",
    "Please make sure {child} brings {item} on {day}.",
    "{event_cap} starts at {time} in {place}.",
    "The cost is {price}, which can be paid on ParentPay by {date}.",
    "{child} has worked hard in {subject} this half term, and it shows in the last assessment.",
    "The school office is open from 8.30am until 4pm if you have any questions.",
    "Letters about {event} went home with Year {year} pupils on {day}.",
    "{teacher} will lead a {subject} revision session after school on {day} in room {room}.",
    "The coach will leave at {time} and should be back by {time2}.",
    "Thank you for your support with reading at home.",
    "Reports for Year {year} will be published on Arbor on {date}.",
    "We will send a reminder through ParentPay the week before.",
    "The library is open every lunchtime and after school until {time2}.",
    "{child} has been chosen for the {sport} team that plays on {date}.",
    "Lunch is provided on the day, but {child} may bring {item} as well.",
    "The notes from the lesson are on Google Classroom under {subject}.",
    "Blazers should be worn to and from school, even on warmer days.",
    "Mock exams for Year {year} begin on {date}, and the timetable is on the school website.",
    "Please return the consent slip to the school office by {day}.",
    "The topic for next half term in {subject} is {topic}.",
    "Year {year} pupils will meet the careers adviser on {date} in {place}.",
    "Thank you to everyone who came to {event}; it was a lovely occasion.",
    "Pupils need to arrive at {time} on the day, in full school uniform.",
    "There are water refill points by {place} and outside room {room}.",
    "The coursework deadline is {date}, and drafts can be handed in before then.",
    "We have seen a real improvement in {child}'s confidence in {subject}.",
    "Places are limited to {places}, so they will be given in the order the forms come back.",
    "The {sport} club runs on {day}s from {time2} in {place}.",
    "Seating for {event} is unreserved, and doors open at {time}.",
    "Tickets are {price} for adults and {price2} for children, on ParentPay.",
    "Each pupil in Year {year} has a revision guide, and a spare copy costs {price}.",
    "The reading challenge this term asks for {pages} pages a week.",
    "Our attendance this half term is {percent}%, and we are proud of it.",
    "Reference {reference} on the ParentPay item will help the office match your payment.",
    "We are looking for volunteers to help at {event} on {date}.",
    "The timetable for {day} changes, because of {event}.",
    "If {child} is unwell on the day, please ring the attendance line before 9am.",
    "Work set on {platform} counts towards the {subject} grade this term.",
    "{teacher} has put the {topic} worksheet on Google Classroom.",
    "Pupils should revise {topic} before the test on {day}.",
]
# What parents write, quoted in replies.
_PARENT_SENTENCES = [
    "Thank you for letting us know about {event}.",
    "{child} has a dentist appointment on {day} at {time}, so will miss the last lesson.",
    "Could you tell me when the money for {event} is due?",
    "We paid for {event} on ParentPay this morning.",
    "{child} really enjoyed {subject} this week and talked about {topic} at dinner.",
    "Is {item} needed on {day}, or only for the trip?",
    "Sorry, the consent slip is still in {child}'s bag; it will come in on {day}.",
    "We will both come to {event} on {date}.",
    "{child} found the homework on {platform} hard, so we went through it together.",
    "Thanks again for all your help this term.",
]


class Prose:
    """Sentences, paragraphs and letters from the templates, never quite the same twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def _slots(self) -> dict[str, str]:
        r = self.rng
        hour, minute = r.choice([8, 9, 10, 11, 1, 2, 3]), r.choice(["00", "15", "30", "45"])
        event = r.choice(_EVENTS)
        return {
            "day": r.choice(_DAYS),
            "date": r.choice(
                [
                    f"{r.randint(1, 28)} {r.choice(_MONTHS)}",
                    f"{r.randint(1, 28)}/{r.randint(1, 12):02d}/2026",
                    f"{r.choice(_DAYS)} {r.randint(1, 28)} {r.choice(_MONTHS)}",
                ]
            ),
            "time": f"{hour}.{minute}{'am' if hour >= 8 else 'pm'}",
            "time2": f"{r.randint(3, 5)}.{r.choice(['00', '15', '30'])}pm",
            "price": f"£{r.randint(2, 45)}.{r.choice(['00', '50', '25'])}",
            "price2": f"£{r.randint(1, 9)}.{r.choice(['00', '50'])}",
            "year": str(r.randint(7, 11)),
            "room": str(r.randint(1, 40)),
            "place": r.choice(_PLACES),
            "subject": r.choice(_SUBJECTS),
            "topic": r.choice(_TOPICS),
            "event": event,
            "event_cap": event[0].upper() + event[1:],
            "child": r.choice(_CHILDREN),
            "teacher": r.choice(_STAFF),
            "item": r.choice(_ITEMS),
            "platform": r.choice(_PLATFORMS),
            "sport": r.choice(_SPORTS),
            "places": str(r.choice([30, 45, 52, 60])),
            "pages": str(r.choice([20, 30, 50])),
            "percent": f"{r.randint(93, 97)}.{r.randint(0, 9)}",
            "reference": f"HOE-{r.randint(2026, 2027)}-{r.randint(100, 999)}",
        }

    def sentence(self, parent: bool = False) -> str:
        return self.rng.choice(_PARENT_SENTENCES if parent else _SENTENCES).format(**self._slots())

    def paragraph(self, parent: bool = False) -> str:
        return " ".join(self.sentence(parent) for _ in range(self.rng.randint(2, 5)))

    def paragraphs(self, low: int, high: int, parent: bool = False) -> list[str]:
        return [self.paragraph(parent) for _ in range(self.rng.randint(low, high))]


def _wrap(text: str, width: int = 76) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


_SIGNATURE = [
    STAFF_NAME,
    "Year 8 Tutor and Teacher of Geography",
    "Heart of England School",
    "Switchboard: 0121 496 0000",
]


def _plain_letter(greeting: str, paras: Sequence[str], signature: bool = True) -> str:
    lines = [greeting, ""]
    for p in paras:
        lines += [*_wrap(p), ""]
    lines += ["Kind regards,", ""]
    if signature:
        lines += ["-- ", *_SIGNATURE]
    return "\r\n".join(lines) + "\r\n"


# -- MIME, written out the way mail programs write it -----------------------


def _qp(text: str) -> bytes:
    body = quopri.encodestring(text.replace("\r\n", "\n").encode("utf-8"))
    return body.replace(b"\n", b"\r\n")


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _part(ctype: str, body: bytes, encoding: str, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in (f"Content-Type: {ctype}", *headers))
    return f"{head}Content-Transfer-Encoding: {encoding}\r\n\r\n".encode() + body


def _text_part(text: str, subtype: str = "plain", encoding: str = "quoted-printable") -> bytes:
    ctype = f'text/{subtype}; charset="utf-8"'
    if encoding == "8bit":
        return _part(ctype, text.replace("\r\n", "\n").replace("\n", "\r\n").encode(), "8bit")
    return _part(ctype, _qp(text), "quoted-printable")


def _attachment(ctype: str, name: str, data: bytes, inline_id: str | None = None) -> bytes:
    if inline_id:
        headers = (f'Content-Description: {name}', f'Content-Disposition: inline; filename="{name}"',
                   f"Content-ID: <{inline_id}>")  # fmt: skip
    else:
        headers = (f'Content-Disposition: attachment; filename="{name}"',)
    return _part(f'{ctype}; name="{name}"', _b64(data), "base64", *headers)


def _multipart(subtype: str, boundary: str, parts: Sequence[bytes], extra: str = "") -> bytes:
    out = [f'Content-Type: multipart/{subtype};{extra}\r\n\tboundary="{boundary}"\r\n\r\n'.encode()]
    for p in parts:
        out += [f"--{boundary}\r\n".encode(), p, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who, when and which message: the headers every shape shares."""

    to: str
    seed: int
    index: int
    sent: str  # an RFC 5322 date

    def head(self, subject: str, mailer: str = "", extra: Sequence[str] = ()) -> bytes:
        lines = [
            f"From: {STAFF_NAME} <{STAFF}>",
            f"To: {self.to}",
            f"Subject: {subject}",
            f"Date: {self.sent}",
            f"Message-ID: <mix-{self.seed}-{self.index}@heartofengland.example>",
            *extra,
            *([f"X-Mailer: {mailer}"] if mailer else []),
            "MIME-Version: 1.0",
        ]
        return ("\r\n".join(lines) + "\r\n").encode()

    def boundary(self, n: int) -> str:
        return f"----=_Part_{self.seed}_{self.index}_{n}"


# -- small valid documents and images ---------------------------------------


def png(width: int, height: int, rng: random.Random) -> bytes:
    """An RGB PNG of a few coloured bands: the school logo in a signature."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    colours = [bytes(rng.randrange(256) for _ in range(3)) for _ in range(4)]
    rows = b"".join(
        b"\x00" + b"".join(colours[(x * 4) // width] for x in range(width)) for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def jpeg_like(size: int, rng: random.Random) -> bytes:
    """A photo's bytes as far as any reader cares: JPEG markers around noise (media passes)."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + (
        rng.randbytes(size) + b"\xff\xd9"
    )


def pdf(lines: Sequence[str]) -> bytes:
    """A PDF whose pages show ``lines`` in Helvetica, with a correct cross-reference table."""

    def literal(s: str) -> bytes:
        raw = s.encode("cp1252", "replace")
        return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"

    per_page = 48
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * k} 0 R" for k in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    for k, page in enumerate(pages):
        stream = b"BT /F1 11 Tf 14 TL 56 790 Td\n" + b"".join(
            literal(s) + b" Tj T*\n" for s in page
        )
        stream += b"ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * k} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


_DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)


def docx(title: str, paragraphs: Sequence[str]) -> bytes:
    """A Word document: the package parts Word needs to open it, and the text in word/document.xml."""

    def para(text: str, bold: bool = False) -> str:
        props = "<w:rPr><w:b/></w:rPr>" if bold else ""
        return f'<w:p><w:r>{props}<w:t xml:space="preserve">{html.escape(text, quote=False)}</w:t></w:r></w:p>'

    body = para(title, bold=True) + "".join(para(p) for p in paragraphs)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f'<w:body>{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (
            ("[Content_Types].xml", _DOCX_TYPES),
            ("_rels/.rels", _DOCX_RELS),
            ("word/document.xml", document),
        ):
            # A fixed time stamp: the same seed gives the same bytes.
            z.writestr(zipfile.ZipInfo(name, (2026, 11, 24, 9, 0, 0)), text)
    return buffer.getvalue()


# -- HTML as Outlook and Gmail write it -------------------------------------

_OUTLOOK_HEAD = """<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><meta name="Generator" content="Microsoft Word 15 (filtered medium)"><!--[if !mso]><style>v\\:* {behavior:url(#default#VML);}
o\\:* {behavior:url(#default#VML);}
w\\:* {behavior:url(#default#VML);}
.shape {behavior:url(#default#VML);}
</style><![endif]--><style><!--
/* Font Definitions */
@font-face
	{font-family:"Cambria Math";
	panose-1:2 4 5 3 5 4 6 3 2 4;}
@font-face
	{font-family:Calibri;
	panose-1:2 15 5 2 2 2 4 3 2 4;}
/* Style Definitions */
p.MsoNormal, li.MsoNormal, div.MsoNormal
	{margin:0cm;
	font-size:11.0pt;
	font-family:"Calibri",sans-serif;
	mso-fareast-language:EN-US;}
a:link, span.MsoHyperlink
	{mso-style-priority:99;
	color:#0563C1;
	text-decoration:underline;}
span.EmailStyle17
	{mso-style-type:personal-compose;
	font-family:"Calibri",sans-serif;
	color:windowtext;}
.MsoChpDefault
	{mso-style-type:export-only;
	font-family:"Calibri",sans-serif;
	mso-fareast-language:EN-US;}
@page WordSection1
	{size:612.0pt 792.0pt;
	margin:72.0pt 72.0pt 72.0pt 72.0pt;}
div.WordSection1
	{page:WordSection1;}
--></style><!--[if gte mso 9]><xml>
<o:shapedefaults v:ext="edit" spidmax="1026" />
</xml><![endif]--><!--[if gte mso 9]><xml>
<o:shapelayout v:ext="edit">
<o:idmap v:ext="edit" data="1" />
</o:shapelayout></xml><![endif]--></head><body lang="EN-GB" link="#0563C1" vlink="#954F72" style="word-wrap:break-word"><div class="WordSection1">
"""


def _word_text(text: str) -> str:
    # Word writes two spaces after a full stop as ".&nbsp; " and curly apostrophes.
    return html.escape(text, quote=False).replace("'", "&#8217;").replace(". ", ".&nbsp; ")


def _mso(text: str) -> str:
    return f"<p class=MsoNormal>{_word_text(text)}<o:p></o:p></p>\r\n"


_MSO_GAP = "<p class=MsoNormal><o:p>&nbsp;</o:p></p>\r\n"


def _outlook_table(prose: Prose) -> str:
    cell = "border:solid windowtext 1.0pt;padding:0cm 5.4pt 0cm 5.4pt"
    rows = []
    for _ in range(prose.rng.randint(3, 6)):
        s = prose._slots()
        values = [s["date"], s["event_cap"], s["time"], s["price"]]
        rows.append(
            "<tr>"
            + "".join(
                f'<td width=150 valign=top style="width:112.5pt;{cell}"><p class=MsoNormal>'
                f"{html.escape(v)}<o:p></o:p></p></td>"
                for v in values
            )
            + "</tr>\r\n"
        )
    head = "".join(
        f'<td width=150 valign=top style="width:112.5pt;{cell};background:#D9E2F3">'
        f"<p class=MsoNormal><b>{h}<o:p></o:p></b></p></td>"
        for h in ("Date", "What", "Time", "Cost")
    )
    return (
        '<table class=MsoTableGrid border=1 cellspacing=0 cellpadding=0 style="border-collapse:collapse;border:none">'
        f"\r\n<tr>{head}</tr>\r\n{''.join(rows)}</table>\r\n"
    )


def _outlook_signature(logo_cid: str | None) -> str:
    style = "font-size:10.0pt;font-family:&quot;Arial&quot;,sans-serif;color:#1F3864"
    lines = "".join(
        f'<p class=MsoNormal><span style="{style}">{html.escape(line)}<o:p></o:p></span></p>\r\n'
        for line in _SIGNATURE
    )
    logo = (
        f'<p class=MsoNormal><span style="{style}"><img width=120 height=40 style="width:1.25in;height:.4166in" '
        f'id="Picture_x0020_1" src="cid:{logo_cid}" alt="Heart of England School"></span><o:p></o:p></p>\r\n'
        if logo_cid
        else ""
    )
    return lines + logo


def _outlook_html(
    greeting: str, paras: Sequence[str], table: str, tail: str, logo: str | None
) -> str:
    body = _mso(greeting) + _MSO_GAP
    for k, p in enumerate(paras):
        body += _mso(p) + _MSO_GAP
        if k == 1 and table:
            body += table + _MSO_GAP
    body += _mso("Kind regards,") + _MSO_GAP + _outlook_signature(logo)
    return _OUTLOOK_HEAD + body + tail + "</div></body></html>\r\n"


def _gmail_html(greeting: str, paras: Sequence[str], tail: str = "") -> str:
    body = f"<div>{html.escape(greeting)}</div><div><br></div>"
    for p in paras:
        body += f"<div>{html.escape(p)}</div><div><br></div>"
    body += "<div>Kind regards,</div><div><br></div>"
    signature = "<br>".join(html.escape(line) for line in _SIGNATURE)
    body += (
        '<span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature" '
        f'data-smartmail="gmail_signature"><div dir="ltr">{signature}</div></div>'
    )
    return f'<div dir="ltr">{body}</div>{tail}\r\n'


# -- the shapes --------------------------------------------------------------


def _subject(prose: Prose) -> str:
    s = prose._slots()
    return prose.rng.choice(
        [
            f"{s['event_cap']} on {s['date']}",
            f"Year {s['year']} {s['subject']} homework",
            f"{s['child']}'s progress in {s['subject']}",
            f"Reminder: {s['event']}",
            f"Update from Year {s['year']}",
        ]
    )


def plain_letter(prose: Prose, env: Envelope) -> bytes:
    text = _plain_letter(
        f"Dear {prose.rng.choice([PARENT_NAME, 'Parent/Carer', 'Mrs Patel'])},",
        prose.paragraphs(2, 6),
    )
    return (
        env.head(_subject(prose), "Microsoft Outlook 16.0")
        + _text_part(text, encoding="8bit")
        + b"\r\n"
    )


def outlook_html(prose: Prose, env: Envelope) -> bytes:
    greeting, paras = "Dear Mrs Patel,", prose.paragraphs(3, 6)
    logo = f"image001.png@01DB3E{env.index % 100:02d}.5A7C1F90"
    markup = _outlook_html(greeting, paras, _outlook_table(prose), "", logo)
    alternative = _multipart(
        "alternative",
        env.boundary(2),
        [_text_part(_plain_letter(greeting, paras)), _text_part(markup, "html")],
    )
    related = _multipart(
        "related",
        env.boundary(1),
        [alternative, _attachment("image/png", "image001.png", png(120, 40, prose.rng), logo)],
        ' type="multipart/alternative";',
    )
    return env.head(_subject(prose), "Microsoft Outlook 16.0") + related


def gmail_html(prose: Prose, env: Envelope) -> bytes:
    greeting, paras = f"Hi {PARENT_NAME.split()[0]},", prose.paragraphs(2, 5)
    alternative = _multipart(
        "alternative",
        env.boundary(1),
        [
            _text_part(_plain_letter(greeting, paras)),
            _text_part(_gmail_html(greeting, paras), "html"),
        ],
    )
    return env.head(_subject(prose)) + alternative


def _when(rng: random.Random, day: int) -> tuple[str, str]:
    """How Gmail and Outlook write the same moment in an attribution."""
    hour, minute = rng.randint(7, 21), rng.randint(0, 59)
    weekday = _DAYS[day % 5]
    gmail = f"{weekday[:3]}, {day} Nov 2026 at {hour:02d}:{minute:02d}"
    outlook = f"{weekday}, November {day}, 2026 {hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
    return gmail, outlook


def reply_thread(prose: Prose, env: Envelope) -> bytes:
    """A reply over 3 to 6 earlier messages, each quoted the way its writer's program quotes."""
    rng = prose.rng
    outlook = rng.random() < 0.5
    subject = _subject(prose)
    levels = rng.randint(3, 6)
    # Oldest first: who wrote each earlier message, what, when and how it was quoted.
    history = []
    for k in range(levels):
        parent = (levels - k) % 2 == 1  # the newest earlier message is the parent's
        history.append(
            (
                parent,
                prose.paragraphs(1, 3, parent=parent),
                _when(rng, 2 + k),
                rng.random() < 0.5,  # written in Outlook (else Gmail)
            )
        )
    who = {True: (PARENT_NAME, env.to), False: (STAFF_NAME, STAFF)}
    text_quoted, markup_quoted = "", ""
    for parent, paras, (g_when, o_when), in_outlook in history:
        name, address = who[parent]
        other_name, other_address = who[not parent]
        hi = f"Dear {other_name.split()[0]}," if parent else "Dear Mrs Patel,"
        sign = name.split()[0] if parent else STAFF_NAME
        text_body = "\r\n\r\n".join([hi, *("\r\n".join(_wrap(p)) for p in paras), sign])
        markup_body = "".join(
            f"<div>{html.escape(x)}</div><div><br></div>" for x in [hi, *paras, sign]
        )
        if in_outlook:
            block = (
                f"From: {name} <{address}>\r\nSent: {o_when}\r\nTo: {other_name} <{other_address}>\r\n"
                f"Subject: RE: {subject}\r\n\r\n"
            )
            text_quoted = f"{block}{text_body}\r\n\r\n{text_quoted}"
            markup_quoted = (
                '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
                f"<p class=MsoNormal><b>From:</b> {html.escape(name)} &lt;{address}&gt; <br><b>Sent:</b> {o_when}<br>"
                f"<b>To:</b> {html.escape(other_name)} &lt;{other_address}&gt;<br><b>Subject:</b> RE: "
                f"{html.escape(subject)}<o:p></o:p></p></div>{_MSO_GAP}{markup_body}{markup_quoted}"
            )
        else:
            attribution = f"On {g_when}, {name} <{address}> wrote:"
            inner = (text_body + "\r\n\r\n" + text_quoted).rstrip()
            text_quoted = (
                "\r\n".join(_wrap(attribution))
                + "\r\n"
                + "\r\n".join(("> " + line).rstrip() for line in inner.split("\r\n"))
                + "\r\n\r\n"
            )
            markup_quoted = (
                '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
                f"{html.escape(attribution)}<br></div>"
                '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
                f'rgb(204,204,204);padding-left:1ex">{markup_body}{markup_quoted}</blockquote></div>'
            )
    greeting, paras = "Dear Mrs Patel,", prose.paragraphs(1, 3)
    last_g, last_o = _when(rng, 2 + levels)
    if outlook:
        rule = "________________________________\r\n" if rng.random() < 0.3 else ""
        text = _plain_letter(greeting, paras) + "\r\n" + rule + text_quoted
        markup = _outlook_html(greeting, paras, "", markup_quoted, None)
        extra = ["Thread-Topic: " + subject, "Thread-Index: AdtOQ3mZ" + f"{env.index:06d}"]
        head = env.head("RE: " + subject, "Microsoft Outlook 16.0", extra)
    else:
        text = _plain_letter(greeting, paras) + "\r\n" + text_quoted
        markup = _gmail_html(greeting, paras, "<br>" + markup_quoted)
        head = env.head("Re: " + subject)
    references = f"<mix-{env.seed}-{env.index}-thread@mail.gmail.com>"
    head += f"In-Reply-To: {references}\r\nReferences: {references}\r\n".encode()
    return head + _multipart(
        "alternative", env.boundary(1), [_text_part(text), _text_part(markup, "html")]
    )


def newsletter(prose: Prose, env: Envelope) -> bytes:
    """The weekly newsletter: ~50 KB of HTML, a dozen and more sections, many links."""
    rng = prose.rng
    sections_html, sections_text = [], []
    total = 0
    n = 0
    while total < 30_000:
        n += 1
        s = prose._slots()
        title = rng.choice(
            [
                f"{s['event_cap']}",
                f"News from {s['subject']}",
                f"Year {s['year']} update",
                f"{s['sport'].capitalize()} results",
                "From the head teacher",
                "Dates for your diary",
                "Library corner",
            ]
        )
        slug = title.lower().replace(" ", "-").replace("'", "")
        paras = prose.paragraphs(2, 4)
        links = [
            (f"https://www.heartofengland.example/news/{slug}-{env.index}-{n}", "Read more"),
            (f"https://www.heartofengland.example/letters/2026/{n:03d}.pdf", "the letter"),
            ("https://www.parentpay.com/", "ParentPay"),
            ("https://classroom.google.com/", "Google Classroom"),
        ][: rng.randint(2, 4)]
        image = f"https://www.heartofengland.example/images/newsletter/{env.index}-{n}.jpg"
        body = "".join(
            f'<p style="margin:0 0 12px 0;font-family:Arial,sans-serif;font-size:14px;line-height:20px;color:#333333">'
            f"{html.escape(p)}</p>"
            for p in paras
        )
        anchors = " | ".join(
            f'<a href="{u}" target="_blank" style="color:#1F3864;text-decoration:underline">{t}</a>'
            for u, t in links
        )
        block = (
            '<tr><td style="padding:20px 30px;border-bottom:1px solid #dddddd">'
            f'<img src="{image}" width="540" alt="{html.escape(title)}" style="display:block;width:100%;max-width:540px;border:0">'
            f'<h2 style="font-family:Arial,sans-serif;font-size:20px;color:#1F3864;margin:16px 0 8px 0">{html.escape(title)}</h2>'
            f'{body}<p style="margin:0;font-family:Arial,sans-serif;font-size:13px">{anchors}</p></td></tr>\r\n'
        )
        sections_html.append(block)
        sections_text.append(
            "\r\n".join(
                [title.upper(), "", *("\r\n".join(_wrap(p)) + "\r\n" for p in paras)]
                + [f"{t}: {u}" for u, t in links]
            )
        )
        total += len(block)
    footer = (
        '<tr><td style="padding:20px 30px;font-family:Arial,sans-serif;font-size:12px;color:#777777">'
        "Heart of England School, Solihull. Switchboard 0121 496 0000. "
        'Follow us on Instagram <a href="https://www.instagram.com/heartofenglandschool/">@heartofenglandschool</a>. '
        '<a href="https://www.heartofengland.example/newsletter/unsubscribe">Unsubscribe</a></td></tr>'
    )
    markup = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        '<title>Newsletter</title></head><body style="margin:0;padding:0;background:#f4f4f4">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td align="center">'
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" style="background:#ffffff">\r\n'
        + "".join(sections_html)
        + footer
        + "</table></td></tr></table></body></html>\r\n"
    )
    text = "\r\n\r\n".join(sections_text) + (
        "\r\n\r\nHeart of England School, Solihull. Switchboard 0121 496 0000.\r\n"
        "Follow us on Instagram: @heartofenglandschool\r\n"
    )
    head = env.head(f"Newsletter, week {env.index % 38 + 1}", "Microsoft Outlook 16.0")
    return head + _multipart(
        "alternative", env.boundary(1), [_text_part(text), _text_part(markup, "html")]
    )


def _with_attachment(prose: Prose, env: Envelope, ctype: str, name: str, data: bytes) -> bytes:
    text = _plain_letter("Dear Mrs Patel,", [prose.paragraph(), f"Please find {name} attached."])
    return env.head(_subject(prose), "Microsoft Outlook 16.0") + _multipart(
        "mixed", env.boundary(1), [_text_part(text), _attachment(ctype, name, data)]
    )


def pdf_letter(prose: Prose, env: Envelope) -> bytes:
    lines = ["Heart of England School", "", "Dear Parent/Carer,", ""]
    for p in prose.paragraphs(6, 12):
        lines += [*_wrap(p, 90), ""]
    lines += ["Yours faithfully,", STAFF_NAME, "Switchboard: 0121 496 0000"]
    return _with_attachment(prose, env, "application/pdf", "trip-letter.pdf", pdf(lines))


def docx_letter(prose: Prose, env: Envelope) -> bytes:
    document = docx("Consent form", ["Dear Parent/Carer,", *prose.paragraphs(6, 12), STAFF_NAME])
    ctype = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return _with_attachment(prose, env, ctype, "consent-form.docx", document)


def photos(prose: Prose, env: Envelope) -> bytes:
    """A letter and two photos from the trip: about 1 MB once base64 has had its way."""
    greeting, paras = "Dear Mrs Patel,", prose.paragraphs(2, 3)
    alternative = _multipart(
        "alternative",
        env.boundary(2),
        [
            _text_part(_plain_letter(greeting, paras)),
            _text_part(_gmail_html(greeting, paras), "html"),
        ],
    )
    pictures = [
        _attachment(
            "image/jpeg", f"IMG_{2000 + env.index % 7000 + k}.jpg", jpeg_like(370_000, prose.rng)
        )
        for k in range(2)
    ]
    return env.head(_subject(prose)) + _multipart(
        "mixed", env.boundary(1), [alternative, *pictures]
    )


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    share: float  # of a day's mail
    build: Callable[[Prose, Envelope], bytes]


SHAPES: tuple[Shape, ...] = (
    Shape("plain letter", 0.30, plain_letter),
    Shape("Outlook HTML", 0.20, outlook_html),
    Shape("Gmail HTML", 0.12, gmail_html),
    Shape("reply thread", 0.20, reply_thread),
    Shape("newsletter 50 KB", 0.05, newsletter),
    Shape("PDF attached", 0.06, pdf_letter),
    Shape("DOCX attached", 0.06, docx_letter),
    Shape("photos 1 MB", 0.01, photos),
)


@dataclass(frozen=True, slots=True)
class MixedMessage:
    shape: str
    raw: bytes


def _counts(n: int) -> list[int]:
    """Each shape's number of messages among ``n``: largest remainders, so they add up to ``n``."""
    exact = [s.share * n for s in SHAPES]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(SHAPES)), key=lambda k: exact[k] - counts[k], reverse=True)
    for k in by_remainder[: n - sum(counts)]:
        counts[k] += 1
    return counts


def day_of_mail(n: int, seed: int = 1, to: str = PARENT) -> list[MixedMessage]:
    """``n`` messages in the shapes' proportions, shuffled; the same arguments, the same bytes."""
    rng = random.Random(seed)
    order = [s for s, count in zip(SHAPES, _counts(n), strict=True) for _ in range(count)]
    rng.shuffle(order)
    out = []
    for i, shape in enumerate(order):
        day = 1 + i % 28
        sent = f"{_DAYS[i % 5][:3]}, {day} Nov 2026 {8 + i % 9:02d}:{i % 60:02d}:00 +0000"
        env = Envelope(to=to, seed=seed, index=i, sent=sent)
        out.append(MixedMessage(shape.name, shape.build(Prose(rng), env)))
    return out


def proportions(messages: Sequence[MixedMessage]) -> str:
    """One line: each shape's share and mean size."""
    count = Counter(m.shape for m in messages)
    size = Counter[str]()
    for m in messages:
        size[m.shape] += len(m.raw)
    return ", ".join(
        f"{s.name} {100 * count[s.name] / len(messages):.0f}% (~{size[s.name] / count[s.name] / 1000:.0f} KB)"
        for s in SHAPES
        if count[s.name]
    )
