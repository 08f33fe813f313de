"""Nothing unread reaches a parent: every shape a mail program shows is read, or the copy is held naming the part.

Each shape carries a personal mobile and a secrecy request, which must be
held *with a finding* (read, not merely failed); its benign twin passes.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.judge.scan import Scanner

from .conftest import PARENT, STAFF, categories

SECRET = "Text me on 07911 765432 - keep it between us"
BENIGN = "The coach leaves at 9 from the main gate"
HEAD = f"From: Tess Teacher <{STAFF}>\r\nTo: {PARENT}\r\nSubject: Trip\r\nDate: Mon, 23 Nov 2026 16:00:00 +0000\r\n"


def held_with_finding(scanner: Scanner, raw: bytes) -> None:
    r = scanner.scan(raw)
    assert r.verdict == "quarantine", (r.error, r.unread, r.notes)
    assert "personal_phone" in categories(r), (r.error, r.unread, r.notes)
    assert not r.error


def passes(scanner: Scanner, raw: bytes) -> None:
    r = scanner.scan(raw)
    assert r.verdict == "pass", (r.findings, r.error, r.unread, r.notes)


def multipart(boundary_header: str, delimiter: str, text: str) -> bytes:
    return (
        HEAD + "MIME-Version: 1.0\r\n" + f"Content-Type: multipart/mixed{boundary_header}\r\n\r\n"
        f"--{delimiter}\r\nContent-Type: text/plain\r\n\r\nHello,\r\n\r\n{text}\r\n"
        f"--{delimiter}--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        ('; boundary="<b1>"', "<b1>"),  # Python's email strips the brackets and finds no part
        ("", "b1"),  # no boundary parameter at all
        ('; boundary="declared"', "used-instead"),  # a boundary no line uses
    ],
    ids=["angle-brackets", "missing", "unused"],
)
def test_a_multipart_whose_boundary_the_parser_misses_is_still_read(scanner, header, delimiter):
    held_with_finding(scanner, multipart(header, delimiter, SECRET))
    passes(scanner, multipart(header, delimiter, BENIGN))


def test_a_multipart_with_no_parts_at_all_is_read_as_text(scanner):
    raw = (HEAD + 'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n' + SECRET + "\r\n").encode()
    held_with_finding(scanner, raw)
    r = scanner.scan(raw)
    assert any("read as text" in n for n in r.notes)


def test_preamble_and_epilogue_are_read(scanner):
    raw = (
        HEAD + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"{SECRET}\r\n--b\r\nContent-Type: text/plain\r\n\r\n{BENIGN}\r\n--b--\r\n"
    ).encode()
    held_with_finding(scanner, raw)


def leaf(ctype: str, body: bytes, *, name: str = "", encoding: str = "base64") -> bytes:
    disposition = f'Content-Disposition: attachment; filename="{name}"\r\n' if name else ""
    data = base64.encodebytes(body).decode() if encoding == "base64" else body.decode()
    return (
        HEAD + 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nPlease see attached.\r\n"
        f"--b\r\nContent-Type: {ctype}\r\n{disposition}Content-Transfer-Encoding: {encoding}\r\n\r\n"
        f"{data}\r\n--b--\r\n"
    ).encode()


def test_an_unknown_type_that_holds_text_is_read(scanner):
    held_with_finding(scanner, leaf("x-foo/bar", SECRET.encode()))
    passes(scanner, leaf("x-foo/bar", BENIGN.encode()))


def _zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


def odt(text: str) -> bytes:
    return _zip(
        {
            "mimetype": "application/vnd.oasis.opendocument.text",
            "content.xml": '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:'
            'opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
            f"<office:body><office:text><text:p>{text}</text:p></office:text></office:body>"
            "</office:document-content>",
        }
    )


def xlsx(text: str) -> bytes:
    return _zip(
        {
            "[Content_Types].xml": "<Types/>",
            "xl/workbook.xml": "<workbook/>",
            "xl/sharedStrings.xml": f"<sst><si><t>Trip list</t></si><si><t>{text}</t></si></sst>",
            "xl/worksheets/sheet1.xml": '<worksheet><sheetData><row><c t="s"><v>0</v></c>'
            '<c t="s"><v>1</v></c></row></sheetData></worksheet>',
        }
    )


def pptx(text: str) -> bytes:
    return _zip(
        {
            "[Content_Types].xml": "<Types/>",
            "ppt/presentation.xml": "<presentation/>",
            "ppt/slides/slide1.xml": f"<p:sld><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:sld>",
        }
    )


def rtf(text: str) -> bytes:
    return (
        "{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0 Dear parent,\\par " + text + "\\par}"
    ).encode()


DOCUMENTS = [
    ("application/vnd.oasis.opendocument.text", "trip.odt", odt),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "list.xlsx", xlsx),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "talk.pptx",
        pptx,
    ),
    ("application/rtf", "letter.rtf", rtf),
    ("application/octet-stream", "renamed.dat", odt),  # a document under another name
    ("application/zip", "pack.zip", lambda text: _zip({"notes/readme.txt": text})),
]


@pytest.mark.parametrize(("ctype", "name", "build"), DOCUMENTS, ids=[d[1] for d in DOCUMENTS])
def test_documents_and_archives_are_read(scanner, ctype, name, build):
    held_with_finding(scanner, leaf(ctype, build(SECRET), name=name))
    passes(scanner, leaf(ctype, build(BENIGN), name=name))


def test_a_document_that_cannot_be_read_holds_the_copy_naming_the_part(scanner):
    broken = odt(SECRET)[:200]  # cut short: not a zip any more
    r = scanner.scan(leaf("application/vnd.oasis.opendocument.text", broken, name="trip.odt"))
    assert r.verdict == "quarantine"
    assert r.unread and "attachment:trip.odt" in r.unread[0]


def test_one_parts_error_is_that_parts_the_others_are_still_read(scanner):
    raw = leaf("application/vnd.oasis.opendocument.text", b"PK\x03\x04 not really", name="trip.odt")
    raw = raw.replace(b"Please see attached.", SECRET.encode())
    r = scanner.scan(raw)
    assert r.verdict == "quarantine" and "personal_phone" in categories(r)
    assert any("trip.odt" in u for u in r.unread)


def test_encrypted_mail_is_held_as_unreadable(scanner):
    pgp = "-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA0zx4M9b1mRaAQf/Xyz\r\n-----END PGP MESSAGE-----\r\n"
    pgp_mime = (
        HEAD
        + 'MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol="application/pgp-encrypted"; '
        'boundary="e"\r\n\r\n--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n'
        f"--e\r\nContent-Type: application/octet-stream\r\n\r\n{pgp}--e--\r\n"
    ).encode()
    for raw in (
        pgp_mime,
        leaf("application/pgp-encrypted", pgp.encode(), name="msg.asc", encoding="7bit"),
    ):
        r = scanner.scan(raw)
        assert r.verdict == "quarantine" and r.unread and "encrypted" in r.unread[0], (
            r.unread,
            r.notes,
        )


def png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_images_pass_with_a_note_and_can_be_held_by_configuration(scanner, config):
    raw = leaf("image/png", png(), name="logo.png")
    r = scanner.scan(raw)
    assert r.verdict == "pass" and any("logo.png" in n for n in r.notes)
    limits = dataclasses.replace(config.limits, unreadable=(("media", "quarantine"),))
    assert Scanner(dataclasses.replace(config, limits=limits)).scan(raw).verdict == "quarantine"


def test_an_unreadable_part_may_be_relaxed_to_flag(scanner, config):
    raw = leaf("application/x-msdownload", b"MZ\x90\x00\x03" + b"\x00\xff" * 200, name="setup.exe")
    assert scanner.scan(raw).verdict == "quarantine"
    limits = dataclasses.replace(config.limits, unreadable=(("document", "flag"),))
    assert Scanner(dataclasses.replace(config, limits=limits)).scan(raw).verdict == "flag"


# -- headers as sent -------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\u2013", "\u00a0", ""])
def test_a_raw_utf8_subject_is_read_as_sent(scanner, separator):
    number = (
        "07700" + separator + "900456" if separator else "０７７００９００４５６"
    )  # full-width digits
    raw = (
        f"From: {STAFF}\r\nTo: {PARENT}\r\nSubject: My mobile: {number}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nSee subject.\r\n"
    ).encode()
    held_with_finding(scanner, raw)


def test_a_raw_utf8_subject_is_not_garbled(scanner):
    raw = f"From: {STAFF}\r\nTo: {PARENT}\r\nSubject: Café trip\r\n\r\nSee you there.\r\n".encode()
    r = scanner.scan(raw)
    assert r.verdict == "pass" and r.subject == "Café trip"


def test_a_raw_8bit_attachment_name_is_no_reason_to_hold(scanner):
    raw = (
        HEAD + 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nAttached.\r\n"
        '--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="résumé.txt"\r\n\r\n'
        f"{BENIGN}\r\n--b--\r\n"
    ).encode()
    passes(scanner, raw)
    held_with_finding(scanner, raw.replace(BENIGN.encode(), SECRET.encode()))


def test_html_the_standard_parser_gives_up_on_is_still_read(scanner):
    raw = (
        HEAD + f"MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n<p>Hello <![> {SECRET}</p>\r\n"
    ).encode()
    held_with_finding(scanner, raw)
    passes(scanner, raw.replace(SECRET.encode(), BENIGN.encode()))


# -- any bytes: findings from every readable part, or a hold naming the unreadable one -----


_TYPES = st.sampled_from(
    [
        "application/octet-stream",
        "application/pdf",
        "application/zip",
        "application/msword",
        "application/vnd.oasis.opendocument.text",
        "image/png",
        "x-foo/bar",
        "application/pkcs7-mime",
        "text/html",
        "message/rfc822",
    ]
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(_TYPES, st.binary(max_size=600)), max_size=4), st.integers(0, 4))
def test_a_readable_part_is_read_whatever_the_other_parts_are(scanner, others, position):
    parts = [
        f'--b\r\nContent-Type: {ctype}\r\nContent-Disposition: attachment; filename="f{i}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{base64.encodebytes(data).decode()}\r\n"
        for i, (ctype, data) in enumerate(others)
    ]
    parts.insert(min(position, len(parts)), f"--b\r\nContent-Type: text/plain\r\n\r\n{SECRET}\r\n")
    raw = (
        HEAD
        + 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + "".join(parts)
        + "--b--\r\n"
    ).encode()
    r = scanner.scan(raw)
    assert r.verdict == "quarantine"
    assert "personal_phone" in categories(r), (r.error, r.unread)  # read, not merely failed
    for u in r.unread:  # and every part that was not read is named
        assert u.split(":", 1)[0] == "attachment", u


# -- the two halves of multipart/alternative -------------------------------------------


def alternative(text: str, html: str) -> bytes:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = f"Tess Teacher <{STAFF}>", PARENT, "Trip"
    m.set_content(text)
    m.add_alternative(html, subtype="html")
    return bytes(m)


def test_an_html_half_saying_what_the_text_half_says_is_read_once(scanner, config):
    from gateway.read.message import read_message

    # As Outlook writes it: a paragraph a line, an empty one for a blank line.
    gap = "<p>&nbsp;</p>"
    raw = alternative(
        f"Hello,\n\n{SECRET}\n\nTess", f"<p>Hello,</p>\n{gap}\n<p>{SECRET}</p>\n{gap}\n<p>Tess</p>"
    )
    view = read_message(raw, config.directory.is_colleague, scanner.limits)
    html = [s for s in view.segments if s.part == "html" and not s.is_link]
    assert [s.echo for s in html] == [True]
    r = scanner.scan(raw)
    assert r.verdict == "quarantine" and "personal_phone" in categories(r)
    assert {f.part for f in r.findings} == {"body"}


REPLY_TEXT = """Dear Mrs Patel,

The coach leaves at 9 from the main gate, and the trip ends back at
school by half past three, in time for the buses.

Tess Teacher

On Mon, 5 Nov 2026 at 08:50, Sarah Patel <parent.one@gmail.com> wrote:
> Dear Tess,
>
> Is a packed lunch needed on Thursday, or will the children eat at the
> museum? Noah really enjoyed the last trip.
>
> Sarah
"""
REPLY_HTML = """<div dir="ltr"><p>Dear Mrs Patel,</p>
<p>The coach leaves at 9 from the main gate, and the trip ends back at school by half past three, in time for the buses.</p>
<p>Tess Teacher</p>{extra}
<blockquote>On Mon, 5 Nov 2026 at 08:50, Sarah Patel &lt;parent.one@gmail.com&gt; wrote:
<blockquote><p>Dear Tess,</p>
<p>Is a packed lunch needed on Thursday, or will the children eat at the museum? Noah really enjoyed the last trip.</p>
<p>Sarah</p></blockquote></blockquote></div>"""


def _html_segment(scanner, config, raw):
    from gateway.read.message import read_message

    view = read_message(raw, config.directory.is_colleague, scanner.limits)
    [html] = [s for s in view.segments if s.part == "html" and not s.is_link]
    return html


def test_an_html_half_wrapped_and_quoted_its_own_way_is_read_once(scanner, config):
    # Gmail's HTML: paragraphs unwrapped, the quote a blockquote, the attribution
    # inside it; the text half wraps at 72 and quotes with "> ". Same words.
    raw = alternative(REPLY_TEXT, REPLY_HTML.format(extra=""))
    assert _html_segment(scanner, config, raw).echo
    passes(scanner, raw)


def test_what_the_html_half_adds_is_read_with_its_neighbours_only(scanner, config):
    extra = "<p>My own mobile, if the coach is late:</p><p>07911 765432</p>"
    raw = alternative(REPLY_TEXT, REPLY_HTML.format(extra=extra))
    html = _html_segment(scanner, config, raw)
    assert not html.echo
    kept = html.text.text
    assert "My own mobile" in kept and "07911 765432" in kept and "Tess Teacher" in kept
    assert "coach leaves" not in kept and "packed lunch" not in kept  # said, and not beside it
    r = scanner.scan(raw)
    assert "personal_phone" in categories(r) and {f.part for f in r.findings} == {"html"}
    # Offsets are the HTML's own: the evidence is the number as written there.
    assert "07911 765432" in {f.evidence for f in r.findings}


def test_words_the_text_half_quotes_are_the_senders_own_in_the_html_half(scanner):
    # The same words: quoted from the parent in the text, the sender's own line in
    # the HTML a mail program shows. Said in another zone is not said.
    ask = "Please keep this between us, nobody else needs to know."
    text = REPLY_TEXT.replace("> Sarah\n", f"> {ask}\n>\n> Sarah\n")
    html = REPLY_HTML.format(extra=f"<p>{ask}</p>")
    r = scanner.scan(alternative(text, html))
    assert r.verdict == "quarantine" and "secrecy" in categories(r)
    assert {f.part for f in r.findings} == {"html"}
    passes(scanner, alternative(text, REPLY_HTML.format(extra="")))


def test_what_only_the_html_half_has_is_read(scanner):
    # An extra line, or a link target the text half does not show, is the HTML's own.
    extra = alternative(
        "Hello,\n\nSee you at 9.", "<p>Hello,</p><p>See you at 9.</p><p>07911 765432</p>"
    )
    r = scanner.scan(extra)
    assert "personal_phone" in categories(r) and {f.part for f in r.findings} == {"html"}
    linked = alternative(
        "Hello,\n\nMessage me here.",
        '<p>Hello,</p><p><a href="https://wa.me/447911765432">Message me here.</a></p>',
    )
    assert scanner.scan(linked).verdict == "quarantine"
    passes(scanner, alternative("Hello,\n\nSee you at 9.", "<p>Hello,</p><p>See you at 9.</p>"))
