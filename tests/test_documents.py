"""Reading attachments: each format's bytes are built here, a sentence hidden in them.

Every format is checked three ways: the sentence comes out (from the text, or
from a member the caller reads next), a damaged copy gives ``text=None`` with a
reason instead of an exception, and the kind is decided by the bytes rather than
by the name or the declared type.
"""

from __future__ import annotations

import base64
import io
import struct
import time
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.read.documents import Extracted, extract, kind_of

SENTENCE = "Text me on 07911 765432 - keep it between us"
RUNS = (  # the sentence as Word splits it: across runs, so no single tag holds it
    "<w:r><w:t xml:space='preserve'>Text me on </w:t></w:r>"
    "<w:r><w:rPr><w:b/></w:rPr><w:t>07911 765432</w:t></w:r>"
    "<w:r><w:t xml:space='preserve'> - keep it between us</w:t></w:r>"
)
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'


def zipped(files: dict[str, str | bytes], *, mimetype: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if mimetype is not None:  # ODF: first, and stored
            z.writestr(zipfile.ZipInfo("mimetype"), mimetype, zipfile.ZIP_STORED)
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def found(result: Extracted, sentence: str = SENTENCE) -> bool:
    """The sentence is in the text or in one of the members (as the caller will read them)."""
    if result.text is not None and sentence in result.text:
        return True
    return any(sentence.encode() in data for _, data in result.members)


def assert_unreadable(result: Extracted) -> None:
    assert isinstance(result, Extracted)
    assert result.text is None
    assert result.reason


# -- DOCX ------------------------------------------------------------------------


def docx(
    document_body: str = "<w:p><w:r><w:t>Dear parents,</w:t></w:r></w:p>", **parts: str
) -> bytes:
    files = {
        "[Content_Types].xml": "<Types/>",
        "word/document.xml": f"<w:document {W}><w:body>{document_body}</w:body></w:document>",
        "word/styles.xml": f"<w:styles {W}><w:style><w:name w:val='Normal'/></w:style></w:styles>",
    }
    files.update({f"word/{name.replace('_', '')}.xml": xml for name, xml in parts.items()})
    return zipped(files)


DOCX_PLACES = {
    "paragraph": docx(f"<w:p>{RUNS}</w:p>"),
    "table": docx(f"<w:tbl><w:tr><w:tc><w:p>{RUNS}</w:p></w:tc></w:tr></w:tbl>"),
    "header": docx(header1=f"<w:hdr {W}><w:p>{RUNS}</w:p></w:hdr>"),
    "footer": docx(footer2=f"<w:ftr {W}><w:p>{RUNS}</w:p></w:ftr>"),
    "footnote": docx(
        footnotes=f"<w:footnotes {W}><w:footnote><w:p>{RUNS}</w:p></w:footnote></w:footnotes>"
    ),
    "comment": docx(
        comments=f"<w:comments {W}><w:comment><w:p>{RUNS}</w:p></w:comment></w:comments>"
    ),
}


@pytest.mark.parametrize("place", DOCX_PLACES)
def test_docx_text_wherever_it_is(place):
    result = extract("letter.docx", "application/octet-stream", DOCX_PLACES[place])
    assert result.kind == "docx"
    assert SENTENCE in (result.text or "")


def test_docx_keeps_lines_cells_and_entities_and_drops_styles():
    body = (
        "<w:p><w:r><w:t>Fish &amp; chips</w:t></w:r></w:p>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>A1</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>B1</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
        "<w:p><w:r><w:t><![CDATA[raw <text>]]></w:t></w:r></w:p>"
    )
    text = extract("a.docx", "", docx(body)).text or ""
    assert "Fish & chips" in text
    assert "A1\n\tB1" in text or "A1\tB1" in text.replace("\n", "")
    assert "raw <text>" in text
    assert "Normal" not in text  # styles.xml is not read


def test_docx_embedded_files_are_members():
    data = zipped(
        {
            "[Content_Types].xml": "<Types/>",
            "word/document.xml": f"<w:document {W}><w:body/></w:document>",
            "word/embeddings/Microsoft_Excel_Worksheet.xlsx": b"PK-inner",
        }
    )
    result = extract("a.docx", "", data)
    assert result.members == (("word/embeddings/Microsoft_Excel_Worksheet.xlsx", b"PK-inner"),)


def test_docx_broken():
    result = extract("letter.docx", "", truncated(DOCX_PLACES["paragraph"]))
    assert_unreadable(result)
    assert result.kind == "docx"
    assert result.reason == "DOCX could not be read (BadZipFile)"


# -- XLSX ------------------------------------------------------------------------

S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def xlsx(sheet_rows: str, shared: str = "", sheet_name: str = "Trip") -> bytes:
    return zipped(
        {
            "[Content_Types].xml": "<Types/>",
            "xl/workbook.xml": f'<workbook {S}><sheets><sheet name="{sheet_name}" sheetId="1"/></sheets></workbook>',
            "xl/sharedStrings.xml": f"<sst {S}>{shared}</sst>",
            "xl/worksheets/sheet1.xml": f"<worksheet {S}><sheetData>{sheet_rows}</sheetData></worksheet>",
            "xl/styles.xml": f"<styleSheet {S}><numFmt formatCode='Hidden style'/></styleSheet>",
        }
    )


def test_xlsx_shared_rich_text():
    shared = (
        "<si><t>Name</t></si>"
        "<si><r><t>Text me on </t></r><r><rPr><b/></rPr><t>07911 765432 - keep it between us</t></r></si>"
    )
    rows = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    result = extract("trip.xlsx", "", xlsx(rows, shared))
    assert result.kind == "xlsx"
    assert f"Name\t{SENTENCE}" in (result.text or "")


def test_xlsx_inline_strings_numbers_and_order():
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>first</t></is></c><c r="B1"><v>7911765432</v></c></row>'
        f'<row r="2"><c r="A2" t="inlineStr"><is><t>{SENTENCE}</t></is></c></row>'
        '<row r="3"><c r="A3" t="s"><v>99</v></c><c r="B3"/></row>'  # a bad index is skipped
    )
    text = extract("trip.xlsx", "", xlsx(rows, sheet_name="Secret &amp; sheet")).text or ""
    assert f"first\t7911765432\n{SENTENCE}" in text
    assert "Secret & sheet" in text
    assert "Hidden style" not in text


def test_xlsx_with_a_namespace_prefix():
    # The OpenXML SDK writes <x:c>, <x:v>: the prefix is the producer's choice.
    ns = 'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    data = zipped(
        {
            "[Content_Types].xml": "<Types/>",
            "xl/sharedStrings.xml": f"<x:sst {ns}><x:si><x:t>{SENTENCE}</x:t></x:si></x:sst>",
            "xl/worksheets/sheet1.xml": f'<x:worksheet {ns}><x:sheetData><x:row><x:c t="s"><x:v>0</x:v></x:c>'
            "</x:row></x:sheetData></x:worksheet>",
        }
    )
    assert SENTENCE in (extract("a.xlsx", "", data).text or "")


def test_xlsx_broken():
    result = extract("trip.xlsx", "", truncated(xlsx("<row/>")))
    assert_unreadable(result)
    assert result.reason == "XLSX could not be read (BadZipFile)"


# -- PPTX ------------------------------------------------------------------------


def pptx(slide_text: str, notes_text: str) -> bytes:
    def shape(text: str) -> str:
        return f"<p:sld {A}><p:txBody><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sld>"

    return zipped(
        {
            "[Content_Types].xml": "<Types/>",
            "ppt/presentation.xml": "<p:presentation/>",
            "ppt/slides/slide10.xml": shape("Slide ten"),
            "ppt/slides/slide2.xml": shape(slide_text),
            "ppt/notesSlides/notesSlide1.xml": shape(notes_text),
        }
    )


def test_pptx_slides_in_order_then_notes():
    result = extract("assembly.pptx", "", pptx("Slide two", SENTENCE))
    assert result.kind == "pptx"
    text = result.text or ""
    assert SENTENCE in text
    assert text.index("Slide two") < text.index("Slide ten") < text.index(SENTENCE)


def test_pptx_broken():
    assert_unreadable(extract("assembly.pptx", "", truncated(pptx("a", "b"))))


# -- ODF -------------------------------------------------------------------------

ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
)
ODF_SENTENCE = "Text me on<text:s/>07911 765432 - keep <text:span>it</text:span> between us"


def odf(kind: str, content_body: str, styles_body: str = "") -> bytes:
    mimetype = {
        "odt": "application/vnd.oasis.opendocument.text",
        "ods": "application/vnd.oasis.opendocument.spreadsheet",
        "odp": "application/vnd.oasis.opendocument.presentation",
    }[kind]
    return zipped(
        {
            "content.xml": f"<office:document-content {ODF_NS}><office:body>{content_body}</office:body></office:document-content>",
            "styles.xml": f"<office:document-styles {ODF_NS}>{styles_body}</office:document-styles>",
            "meta.xml": "<office:meta>Author metadata</office:meta>",
            "META-INF/manifest.xml": "<manifest:manifest/>",
        },
        mimetype=mimetype,
    )


ODF_CASES = {
    "odt": odf(
        "odt", f"<office:text><text:h>Trip</text:h><text:p>{ODF_SENTENCE}</text:p></office:text>"
    ),
    "odt-footer": odf(
        "odt",
        "<office:text><text:p>Body</text:p></office:text>",
        f"<office:master-styles><style:footer><text:p>{ODF_SENTENCE}</text:p></style:footer></office:master-styles>",
    ),
    "ods": odf(
        "ods",
        "<office:spreadsheet><table:table><table:table-row>"
        "<table:table-cell><text:p>Name</text:p></table:table-cell>"
        f"<table:table-cell><text:p>{ODF_SENTENCE}</text:p></table:table-cell>"
        "</table:table-row></table:table></office:spreadsheet>",
    ),
    "odp": odf(
        "odp",
        f"<office:presentation><draw:page><draw:frame><text:p>{ODF_SENTENCE}</text:p></draw:frame></draw:page></office:presentation>",
    ),
}


@pytest.mark.parametrize("case", ODF_CASES)
def test_odf(case):
    kind = case.split("-")[0]
    result = extract(f"file.{kind}", "application/octet-stream", ODF_CASES[case])
    assert result.kind == kind
    assert SENTENCE in (result.text or "")
    assert "Author metadata" not in (result.text or "")


def test_ods_cells_are_tab_separated():
    text = extract("a.ods", "", ODF_CASES["ods"]).text or ""
    assert f"Name\t{SENTENCE}" in text


@pytest.mark.parametrize("kind", ["odt", "ods", "odp"])
def test_odf_broken(kind):
    result = extract(f"file.{kind}", "", truncated(ODF_CASES[kind]))
    assert_unreadable(result)
    assert result.kind == kind
    assert result.reason == f"{kind.upper()} could not be read (BadZipFile)"


def test_odf_with_a_password_is_encrypted():
    data = zipped(
        {
            "content.xml": b"\x8f\x00 scrambled",
            "META-INF/manifest.xml": "<manifest:file-entry><manifest:encryption-data/></manifest:file-entry>",
        },
        mimetype="application/vnd.oasis.opendocument.text",
    )
    result = extract("secret.odt", "", data)
    assert (result.kind, result.text) == ("encrypted", None)
    assert "ODT" in result.reason


# -- RTF -------------------------------------------------------------------------

RTF = (
    r"{\rtf1\ansi\ansicpg1252\deff0"
    r"{\fonttbl{\f0\fswiss\fcharset0 Arial;}{\f1\fnil\fcharset204 Cyrillic Font;}}"
    r"{\colortbl;\red255\green0\blue0;}"
    r"{\*\generator Riched20 10.0;}{\info{\author Mr Teacher}}"
    r"\viewkind4\uc1\pard\f0\fs20 Caf\'e9 trip\par"
    r"{\pict\pngblip\picw10\pich10 89504e470d0a1a0a}"
    r"{\*\bkmkstart secret_bookmark}"
    r"Text me on 07911 765432 \u45- keep it between us\par"
    r"{\f1 \'cf\'f0\'e8\'e2\'e5\'f2}\par"
    r"{\*\unknowndestination hidden junk}"
    r"\u8220?quoted\u8221?\tab end\par}"
)


def test_rtf_text():
    result = extract("letter.rtf", "application/rtf", RTF.encode("ascii"))
    assert result.kind == "rtf"
    text = result.text or ""
    assert SENTENCE in text
    assert "Café trip\n" in text
    assert "Привет" in text  # \'hh in the font's code page (fcharset 204)
    assert "\u201cquoted\u201d\tend" in text
    for hidden in ("Arial", "Riched20", "Mr Teacher", "89504e", "secret_bookmark", "hidden junk"):
        assert hidden not in text


@pytest.mark.parametrize(
    "group",
    [
        r"{\header Text me on 07911 765432 - keep it between us\par}",
        r"{\footer Text me on 07911 765432 - keep it between us\par}",
        r"{\footnote Text me on 07911 765432 - keep it between us}",
        r"{\*\annotation Text me on 07911 765432 - keep it between us}",
        r"{\shp{\*\shpinst{\sp{\sn fillColor}{\sv 123}}{\shptxt Text me on 07911 765432 - keep it between us}}}",
        r"{\field{\*\fldinst HYPERLINK \"https://wa.me/447911765432\"}{\fldrslt Text me on 07911 765432 - keep it between us}}",
    ],
)
def test_rtf_text_off_the_main_flow(group):
    data = (r"{\rtf1\ansi Body\par " + group + "}").encode()
    assert SENTENCE in (extract("a.rtf", "", data).text or "")


def test_rtf_unicode_surrogates_and_bin():
    data = rb"{\rtf1 smile \u-10179?\u-8704? {\pict\bin4 }{}}} after}"
    text = extract("a.rtf", "", data).text or ""
    assert "smile \U0001f600" in text
    assert "after" in text and "}{}" not in text


def test_rtf_misplaced_destination_hides_nothing():
    # \info names a destination only as a group's first word; here it must not swallow the text.
    data = (r"{\rtf1\ansi Hello \info " + SENTENCE + r"\par}").encode()
    assert SENTENCE in (extract("a.rtf", "", data).text or "")


def test_rtf_broken():
    result = extract("letter.rtf", "", truncated(RTF.encode()))
    assert_unreadable(result)
    assert result.kind == "rtf"
    assert "truncated" in result.reason


# -- zip -------------------------------------------------------------------------


def test_zip_members():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes/", "")
        z.writestr("notes/plan.txt", SENTENCE)
        z.writestr("photo.png", b"\x89PNG\r\n\x1a\n")
    result = extract("trip.zip", "application/zip", buf.getvalue())
    assert result.kind == "zip"
    assert result.members == (
        ("notes/plan.txt", SENTENCE.encode()),
        ("photo.png", b"\x89PNG\r\n\x1a\n"),
    )
    assert found(result)
    assert "notes/plan.txt" in (result.text or "")  # names are read too


def test_zip_member_names_can_hide_the_sentence():
    result = extract("a.zip", "", zipped({f"{SENTENCE}.txt": "x"}))
    assert SENTENCE in (result.text or "")


def test_zip_broken():
    result = extract("trip.zip", "", truncated(zipped({"a.txt": SENTENCE * 20})))
    assert_unreadable(result)
    assert result.reason == "zip could not be read (BadZipFile)"


def test_zip_bomb_is_refused_by_declared_size():
    data = zipped({"zeros.txt": b"\x00" * 2_000_000})
    assert len(data) < 10_000
    result = extract("bomb.zip", "", data, max_bytes=1_000_000)
    assert_unreadable(result)
    assert "more than" in result.reason


def test_zip_member_that_lies_about_its_size():
    data = bytearray(zipped({"a.txt": b"A" * 5000}))
    # Shrink the declared size in the central directory: the capped read catches it.
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 10)
    result = extract("a.zip", "", bytes(data))
    assert_unreadable(result)


def test_zip_with_too_many_files():
    data = zipped({f"{k}.txt": "x" for k in range(5)})
    result = extract("many.zip", "", data, max_members=3)
    assert_unreadable(result)
    assert "5 files" in result.reason


def test_zip_with_an_encrypted_member():
    data = bytearray(zipped({"open.txt": "hello", "secret.txt": b"\x12\x34 scrambled"}))
    # Mark secret.txt encrypted as a password-protecting zip tool does (zipfile cannot write it).
    local = data.find(b"PK\x03\x04", 1)
    central = data.rfind(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    result = extract("a.zip", "", bytes(data))
    assert (result.kind, result.text) == ("encrypted", None)
    assert "secret.txt" in result.reason


# -- PDF -------------------------------------------------------------------------


def pdf(page_text: str, annotation: str | None = None) -> bytes:
    content = b"BT /F1 12 Tf 72 712 Td (" + page_text.encode("latin-1") + b") Tj ET"
    annots = b" /Annots [6 0 R]" if annotation else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >>" + annots + b" >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if annotation:
        objects.append(
            b"<< /Type /Annot /Subtype /Text /Rect [0 0 10 10] /Contents ("
            + annotation.encode("latin-1")
            + b") >>"
        )
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_pdf_page_text():
    result = extract("letter.pdf", "application/pdf", pdf(SENTENCE))
    assert result.kind == "pdf"
    assert SENTENCE in (result.text or "")


def test_pdf_comment_text():
    result = extract("letter.pdf", "application/pdf", pdf("Dear parents", annotation=SENTENCE))
    assert SENTENCE in (result.text or "")


def without_xref(data: bytes, *, trailer: bool) -> bytes:
    """``data`` as some generators write it: no cross-reference table, no startxref."""
    body = data[: data.index(b"xref\n")]
    return body + (b"trailer\n<< /Root 1 0 R >>\n%%EOF\n" if trailer else b"")


@pytest.mark.parametrize("trailer", [True, False])
def test_pdf_without_a_cross_reference_table_is_read_as_viewers_read_it(trailer):
    # Viewers find the objects by scanning the file; so does the reader.
    result = extract("letter.pdf", "application/pdf", without_xref(pdf(SENTENCE), trailer=trailer))
    assert (result.kind, result.reason) == ("pdf", "")
    assert SENTENCE in (result.text or "")


def test_pdf_without_objects_or_a_catalog_is_still_unreadable():
    no_catalog = without_xref(pdf(SENTENCE), trailer=False).replace(b"/Catalog", b"/Katalog")
    assert_unreadable(extract("letter.pdf", "application/pdf", no_catalog))


def test_pdf_broken():
    result = extract("letter.pdf", "application/pdf", pdf(SENTENCE)[:40])
    assert_unreadable(result)
    assert result.kind == "pdf"
    assert result.reason.startswith("PDF could not be read (")


def encrypted_pdf(user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(SENTENCE))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_with_a_password_is_encrypted():
    result = extract("secret.pdf", "application/pdf", encrypted_pdf("secret"))
    assert (result.kind, result.text, result.reason) == (
        "encrypted",
        None,
        "encrypted (password-protected PDF)",
    )


def test_pdf_locked_only_against_editing_is_read():
    result = extract("form.pdf", "application/pdf", encrypted_pdf(""))
    assert result.kind == "pdf"
    assert SENTENCE in (result.text or "")


# -- TNEF (winmail.dat) ----------------------------------------------------------


def tnef_attribute(level: int, name: int, kind: int, data: bytes) -> bytes:
    return (
        struct.pack("<BHHI", level, name, kind, len(data))
        + data
        + struct.pack("<H", sum(data) & 0xFFFF)
    )


def mapi_binary(tag: int, value: bytes) -> bytes:
    padded = value + b"\x00" * (-len(value) % 4)
    return struct.pack("<IHHII", 1, 0x0102, tag, 1, len(value)) + padded


def winmail(rtf_body: bytes, attachment: bytes) -> bytes:
    from compressed_rtf import compress

    return (
        struct.pack("<IH", 0x223E9F78, 0x1234)
        + tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
        + tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
        + tnef_attribute(1, 0x8004, 0x0001, b"Trip plans\x00")  # attSubject
        + tnef_attribute(1, 0x800C, 0x0002, b"See the attached plan.")  # attBody
        + tnef_attribute(
            1, 0x9003, 0x0006, mapi_binary(0x1009, compress(rtf_body))
        )  # PR_RTF_COMPRESSED
        + tnef_attribute(2, 0x9002, 0x0006, b"\x00" * 14)  # attAttachRendData: an attachment starts
        + tnef_attribute(2, 0x8010, 0x0001, b"plan.txt\x00")  # attAttachTitle
        + tnef_attribute(2, 0x800F, 0x0006, attachment)  # attAttachData
    )


WINMAIL = winmail(
    rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Calibri;}}\f0 Text me on 07911 765432 - keep it between us\par}",
    b"Meet at the gate at 9.",
)


def test_tnef_bodies_and_attachments():
    result = extract("winmail.dat", "application/ms-tnef", WINMAIL)
    assert result.kind == "tnef"
    text = result.text or ""
    assert SENTENCE in text  # from the compressed RTF body
    assert "See the attached plan." in text
    assert "Trip plans" in text
    assert result.members == (("plan.txt", b"Meet at the gate at 9."),)


def test_tnef_attachment_is_a_member():
    data = winmail(rb"{\rtf1 Hello\par}", SENTENCE.encode())
    assert found(extract("winmail.dat", "application/octet-stream", data))


def test_tnef_broken():
    result = extract("winmail.dat", "application/ms-tnef", WINMAIL[:-20])
    assert_unreadable(result)
    assert result.kind == "tnef"
    assert result.reason == "TNEF is truncated"


# -- S/MIME ----------------------------------------------------------------------


def signed_data(content: bytes) -> bytes:
    from asn1crypto import cms

    return cms.ContentInfo(
        {
            "content_type": "signed_data",
            "content": cms.SignedData(
                {
                    "version": "v1",
                    "digest_algorithms": [{"algorithm": "sha256"}],
                    "encap_content_info": {"content_type": "data", "content": content},
                    "signer_infos": [],
                }
            ),
        }
    ).dump()


@pytest.mark.parametrize(
    "content",
    [
        b"Content-Type: text/plain\r\n\r\nText me on 07911 123456",
        b"Content-Type: text/plain\r\n\r\n" + SENTENCE.encode(),
    ],
)
def test_smime_signed_data_gives_the_message_as_a_member(content):
    result = extract(
        "smime.p7m", "application/pkcs7-mime; smime-type=signed-data", signed_data(content)
    )
    assert result.kind == "smime-signed"
    assert result.members == (("smime-content.eml", content),)


def test_smime_signed_data_in_base64_and_pem():
    der = signed_data(SENTENCE.encode())
    as_base64 = base64.encodebytes(der)
    assert found(extract("smime.p7m", "application/pkcs7-mime", as_base64))
    pem = b"-----BEGIN PKCS7-----\n" + as_base64 + b"-----END PKCS7-----\n"
    assert found(extract("signed.txt", "text/plain", pem))


def test_smime_signed_data_in_ber_with_chunked_content():
    oid = bytes.fromhex("06092a864886f70d0107")
    half = len(SENTENCE) // 2
    chunks = b"".join(
        b"\x04" + bytes([len(p)]) + p.encode() for p in (SENTENCE[:half], SENTENCE[half:])
    )
    eci = b"\x30\x80" + oid + b"\x01" + b"\xa0\x80\x24\x80" + chunks + b"\x00\x00\x00\x00\x00\x00"
    sd = b"\x30\x80\x02\x01\x01\x31\x00" + eci + b"\x31\x00\x00\x00"
    ber = b"\x30\x80" + oid + b"\x02" + b"\xa0\x80" + sd + b"\x00\x00\x00\x00"
    result = extract("smime.p7m", "application/pkcs7-mime", ber)
    assert result.members == (("smime-content.eml", SENTENCE.encode()),)


def test_smime_broken():
    result = extract(
        "smime.p7m", "application/pkcs7-mime", truncated(signed_data(SENTENCE.encode()))
    )
    assert_unreadable(result)
    assert result.kind == "smime-signed"
    assert result.reason.startswith("S/MIME could not be read (")


def test_smime_enveloped_data_is_encrypted():
    from asn1crypto import cms

    enveloped = cms.ContentInfo(
        {
            "content_type": "enveloped_data",
            "content": cms.EnvelopedData(
                {
                    "version": "v0",
                    "recipient_infos": [],
                    "encrypted_content_info": {
                        "content_type": "data",
                        "content_encryption_algorithm": {
                            "algorithm": "aes128_cbc",
                            "parameters": b"\x00" * 16,
                        },
                        "encrypted_content": b"\x01" * 32,
                    },
                }
            ),
        }
    ).dump()
    result = extract("smime.p7m", "application/pkcs7-mime; smime-type=enveloped-data", enveloped)
    assert (result.kind, result.text, result.reason) == (
        "encrypted",
        None,
        "encrypted (S/MIME enveloped-data)",
    )
    # Declared enveloped, bytes unreadable: still encrypted, by its type.
    declared = extract(
        "smime.p7m", 'application/pkcs7-mime; smime-type="enveloped-data"', b"\x00\x01\x02"
    )
    assert declared.kind == "encrypted"


# -- PGP, media, text, unknown ---------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        (
            "msg.asc",
            "text/plain",
            b"-----BEGIN PGP MESSAGE-----\n\nhQEMA+abc\n=x\n-----END PGP MESSAGE-----\n",
        ),
        (
            "encrypted.asc",
            "application/octet-stream",
            b"\x85\x01\x0c\x03" + b"\x11" * 268,
        ),  # old-format PKESK
        ("msg.gpg", "application/octet-stream", b"\xc1\x0c\x03" + b"\x22" * 40),  # new-format PKESK
        ("version.txt", "application/pgp-encrypted", b"\x00\x01binary"),
        (
            "secret.docx",
            "",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le"),
        ),
    ],
)
def test_encrypted(filename, content_type, data):
    result = extract(filename, content_type, data)
    assert (result.kind, result.text) == ("encrypted", None)
    assert result.reason.startswith("encrypted (")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image (not read)"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image (not read)"),
        (b"GIF89a\x01\x00", "image (not read)"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image (not read)"),
        (b"ID3\x04\x00\x00\x00", "audio (not read)"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00", "video (not read)"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image (not read)"),
    ],
)
def test_media_by_its_bytes_whatever_the_name(data, reason):
    result = extract("report.docx", "application/pdf", data)
    assert result == Extracted(None, "media", reason)


def test_media_by_declared_type_when_the_bytes_are_not_text():
    assert extract("clip", "video/mp4", b"\x00\x01\x02\x03" * 10).reason == "video (not read)"
    assert extract("clip.mov", "", b"\x00\x01\x02\x03" * 10).reason == "video (not read)"


def test_text_declared_as_media_is_read():
    result = extract("photo.png", "image/png", SENTENCE.encode())
    assert result == Extracted(SENTENCE, "text")


@pytest.mark.parametrize(
    "data",
    [
        SENTENCE.encode("utf-8"),
        ("Caf\u00e9 " + SENTENCE).encode("cp1252"),
        ("\ufeff" + SENTENCE).encode("utf-16-le"),
        b"\xef\xbb\xbf" + SENTENCE.encode(),
    ],
)
def test_text_whatever_the_declared_type(data):
    result = extract("invoice.pdf", "application/pdf", data)
    assert result.kind == "text"
    assert SENTENCE in (result.text or "")


def test_unknown_binary():
    result = extract("data.foo", "application/x-foo", b"\x00\x01\x02\x03\xfe\xff" * 20)
    assert result == Extracted(None, "unknown", "no extractor for application/x-foo")
    assert (
        "legacy"
        in extract(
            "old.doc", "application/msword", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64
        ).reason
    )


# -- the kind: bytes, then name, then declared type -------------------------------


def test_kind_of_prefers_bytes_then_extension_then_content_type():
    docx_bytes = DOCX_PLACES["paragraph"]
    assert kind_of("holiday.jpg", "image/jpeg", docx_bytes) == "docx"  # renamed
    assert kind_of("x", "", pdf("hi")) == "pdf"
    assert kind_of("x", "", RTF.encode()) == "rtf"
    assert kind_of("x", "", WINMAIL) == "tnef"
    assert kind_of("x", "", ODF_CASES["ods"]) == "ods"
    assert kind_of("x", "", zipped({"a.txt": "a"})) == "zip"
    broken = truncated(docx_bytes)
    assert kind_of("a.odt", "application/zip", broken) == "odt"  # extension before type
    assert kind_of("a", "application/vnd.oasis.opendocument.text", broken) == "odt"
    assert kind_of("a.bin", "", broken) == "zip"
    binary = b"\x00\xff" * 10
    assert kind_of("a.pdf", "application/rtf", binary) == "pdf"
    assert kind_of("a", "application/rtf", binary) == "rtf"
    assert kind_of("WINMAIL.DAT", "", binary) == "tnef"


def test_renamed_docx_is_still_read():
    result = extract("holiday.jpg", "image/jpeg", DOCX_PLACES["footer"])
    assert result.kind == "docx"
    assert SENTENCE in (result.text or "")


def test_deadline_gives_up_with_a_reason():
    result = extract("a.docx", "", DOCX_PLACES["paragraph"], deadline_seconds=-1)
    assert_unreadable(result)
    assert "took longer than" in result.reason


def test_too_large():
    result = extract("a.txt", "text/plain", b"a" * 2000, max_bytes=1000)
    assert_unreadable(result)
    assert result.kind == "text"


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("a.docx", docx("<" * 1_000_000)),
        ("a.docx", docx("<![CDATA[" * 100_000)),
        ("a.docx", docx("<w:p " * 200_000)),
        ("a.xlsx", xlsx('<c r="A1">' * 100_000)),
        ("a.xlsx", xlsx("<row/>", "<si>" * 250_000)),
        ("a.xlsx", xlsx('<c t="inlineStr"><is>' + "<is>" * 250_000 + "</c>")),
        ("a.rtf", b"{\\rtf1 {\\pict " + b"{" * 200_000 + b"}" * 200_000 + b"} end}"),
    ],
)
def test_unclosed_tags_cost_linear_time(filename, data):
    """A part full of unclosed tags must not make a pattern rescan to the end from each one."""
    start = time.monotonic()
    result = extract(filename, "", data, deadline_seconds=30)
    assert result.text is not None, result.reason
    assert time.monotonic() - start < 5


# -- never raises --------------------------------------------------------------

PREFIXES = [
    b"",
    b"%PDF-1.4\n",
    b"PK\x03\x04",
    b"{\\rtf1 ",
    b"\x78\x9f\x3e\x22",
    b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02",
    b"\x30\x82\x01\x00\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03",
    b"-----BEGIN PKCS7-----\n",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"\x85\x01\x0c\x03",
    b"\xff\xfe",
]
SAMPLES = [
    DOCX_PLACES["paragraph"],
    ODF_CASES["ods"],
    WINMAIL,
    RTF.encode(),
    pdf(SENTENCE),
    signed_data(b"x"),
    zipped({"a.txt": "a"}),
]
NAMES = st.sampled_from(
    [
        "",
        "a.docx",
        "b.xlsx",
        "c.pptx",
        "d.odt",
        "e.rtf",
        "winmail.dat",
        "f.zip",
        "g.p7m",
        "h.png",
        "i",
    ]
)
TYPES = st.one_of(
    st.sampled_from(
        [
            "",
            "application/pdf",
            "application/pkcs7-mime; smime-type=signed-data",
            "application/pkcs7-mime; smime-type=enveloped-data",
            "application/ms-tnef",
            "image/png",
            "text/plain",
            "application/zip",
        ]
    ),
    st.text(max_size=40),
)


def corrupt(sample: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(sample[: cut % (len(sample) + 1)])
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.sampled_from(PREFIXES),
    body=st.binary(max_size=300),
    filename=st.one_of(NAMES, st.text(max_size=30)),
    content_type=TYPES,
)
def test_extract_never_raises_on_arbitrary_bytes(prefix, body, filename, content_type):
    result = extract(filename, content_type, prefix + body)
    assert isinstance(result, Extracted)
    assert result.text is not None or result.reason
    assert isinstance(kind_of(filename, content_type, prefix + body), str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    cut=st.integers(min_value=0),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    filename=NAMES,
)
def test_extract_never_raises_on_damaged_documents(sample, cut, flips, filename):
    result = extract(filename, "", corrupt(sample, cut, flips))
    assert isinstance(result, Extracted)
    assert result.text is not None or result.reason
