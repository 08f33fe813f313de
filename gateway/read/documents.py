"""Attachments as a person would read them: the text inside documents and wrappers.

Staff attach Word files, spreadsheets, slides, PDFs, zips, Outlook's
winmail.dat and signed S/MIME parts. The scanner only sees text, so this module
turns attachment bytes into the text a recipient would see when opening the file,
or says in one line why it cannot. A caller that gets ``text=None`` knows the
attachment went unread and can hold the copy (fail closed) rather than pass
what nobody checked.

What decides the format is the data, not the name: magic bytes first, then the
extension, then the declared content type, because a sender can rename a file
or lie about its type. Anything that decodes as text is read as text whatever
it claims to be.

Containers (zip, TNEF, S/MIME signed-data, and files embedded in office
documents) do not read their members: they hand them back as ``members`` so the
caller reads each in turn with the same rules and its own depth limit.

Nothing here raises: every failure, including a library's, becomes an
``Extracted`` with ``text=None`` and a reason for the reviewer. Sizes are bounded
by ``max_bytes`` (declared sizes are checked and reads are capped, so a zip bomb
cannot expand past it) and time by ``deadline_seconds``, checked between pages,
parts and tokens (a single PDF page or a compressed RTF body is not
interruptible, so those are bounded by size instead).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import io
import re
import struct
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader

__all__ = ["Extracted", "extract", "kind_of"]


@dataclass(frozen=True, slots=True)
class Extracted:
    """What could be read from one attachment."""

    text: str | None  # the readable text, or None when it could not be read
    kind: str  # the format: "pdf", "docx", ..., "text", "media", "encrypted", "unknown"
    reason: str = ""  # when text is None: why, for a reviewer
    # For containers: (name, bytes) of contained files and messages, for the caller to read.
    members: tuple[tuple[str, bytes], ...] = ()


class _Unreadable(Exception):
    """An extractor's way out: the reason for the reviewer, and the kind when it changed."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


# -- limits ------------------------------------------------------------------


@dataclass(slots=True)
class _Limits:
    """The byte budget and the clock one extraction shares across its parts."""

    max_bytes: int
    max_members: int
    seconds: float
    deadline: float
    left: int

    @classmethod
    def start(cls, max_bytes: int, max_members: int, seconds: float) -> _Limits:
        return cls(max_bytes, max_members, seconds, time.monotonic() + seconds, max_bytes)

    def tick(self, what: str) -> None:
        """Give up once the deadline has passed: a slow file must not stall the queue."""
        if time.monotonic() > self.deadline:
            raise _Unreadable(f"{what} took longer than {self.seconds:g}s to read")

    def spend(self, size: int, what: str) -> None:
        """Count expanded bytes against max_bytes, so nested expansion stays bounded."""
        if size > self.left:
            raise _Unreadable(f"{what} expands beyond {_size(self.max_bytes)} (not read)")
        self.left -= size


def _words(text: str) -> tuple[str, ...]:
    """Long lists of names, written as one string to keep the tables short."""
    return tuple(text.split())


def _le32(raw: bytes) -> int:
    return int.from_bytes(raw, "little")


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


# -- deciding the kind -------------------------------------------------------

_LABELS = {
    "pdf": "PDF",
    "docx": "DOCX",
    "xlsx": "XLSX",
    "pptx": "PPTX",
    "odt": "ODT",
    "ods": "ODS",
    "odp": "ODP",
    "rtf": "RTF",
    "zip": "zip",
    "tnef": "TNEF",
    "smime-signed": "S/MIME",
    "text": "text",
}
_ZIP_KINDS = frozenset({"docx", "xlsx", "pptx", "odt", "ods", "odp", "zip"})
_ODF_TYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}
_MEDIA_EXTENSIONS = {
    **dict.fromkeys(
        _words(".png .jpg .jpeg .jfif .gif .webp .bmp .tif .tiff .heic .heif .avif .ico .psd"),
        "image",
    ),
    **dict.fromkeys(
        _words(".mp3 .wav .m4a .aac .ogg .oga .opus .flac .amr .wma .mid .midi"),
        "audio",
    ),
    **dict.fromkeys(
        [".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".wmv", ".3gp", ".mpg", ".mpeg", ".flv"],
        "video",
    ),
}
_EXTENSION_KINDS = {
    ".pdf": "pdf",
    **dict.fromkeys((".docx", ".docm", ".dotx", ".dotm"), "docx"),
    **dict.fromkeys((".xlsx", ".xlsm", ".xltx", ".xltm"), "xlsx"),
    **dict.fromkeys((".pptx", ".pptm", ".ppsx", ".ppsm", ".potx", ".potm"), "pptx"),
    **dict.fromkeys((".odt", ".ott"), "odt"),
    **dict.fromkeys((".ods", ".ots"), "ods"),
    **dict.fromkeys((".odp", ".otp"), "odp"),
    ".rtf": "rtf",
    ".zip": "zip",
    ".tnef": "tnef",
    **dict.fromkeys((".p7m", ".p7s", ".p7c"), "smime-signed"),
}
_OOXML = "application/vnd.openxmlformats-officedocument."
_TYPE_KINDS = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    _OOXML + "wordprocessingml.document": "docx",
    _OOXML + "wordprocessingml.template": "docx",
    "application/vnd.ms-word.document.macroenabled.12": "docx",
    _OOXML + "spreadsheetml.sheet": "xlsx",
    _OOXML + "spreadsheetml.template": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsx",
    _OOXML + "presentationml.presentation": "pptx",
    _OOXML + "presentationml.slideshow": "pptx",
    "application/vnd.ms-powerpoint.presentation.macroenabled.12": "pptx",
    **{mime: kind for mime, kind in _ODF_TYPES.items()},
    "application/rtf": "rtf",
    "application/x-rtf": "rtf",
    "text/rtf": "rtf",
    "application/zip": "zip",
    "application/x-zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/ms-tnef": "tnef",
    "application/vnd.ms-tnef": "tnef",
}
_PKCS7_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})


@dataclass(frozen=True, slots=True)
class _Sniff:
    """A decided kind, what to tell a reviewer about it, and the bytes to read."""

    kind: str
    note: str = ""
    payload: bytes | None = None  # when not the attachment's own bytes (base64 or PEM S/MIME)


def kind_of(filename: str, content_type: str, data: bytes) -> str:
    """The format of an attachment, judged from its bytes before its name or declared type."""
    try:
        return _sniff(filename or "", content_type or "", bytes(data)).kind
    except Exception:  # deciding must not fail either
        return "unknown"


def _sniff(filename: str, content_type: str, data: bytes) -> _Sniff:
    ctype, params = _parse_content_type(content_type)
    ext = extension(filename)
    declared = _byextension(filename, ext) or _by_content_type(ctype, params)
    if ctype in _PKCS7_TYPES:  # .p7m is signed or enveloped: smime-type says which
        declared = _by_content_type(ctype, params)
    found = _by_magic(data, declared)
    if found is not None:
        return found
    cms = _base64_cms(data) if ext in (".p7m", ".p7s", ".p7c") or ctype in _PKCS7_TYPES else None
    if cms is not None:
        return cms
    if _decode_text(data) is not None:
        return _Sniff("text")
    if declared is not None:
        return declared
    return _Sniff("unknown", _no_extractor(ctype, ext))


def _no_extractor(ctype: str, ext: str) -> str:
    if ctype.startswith("text/"):
        return f"binary data declared as {ctype} (not read)"
    if ctype and ctype != "application/octet-stream":
        return f"no extractor for {ctype}"
    return f"no extractor for {ext} files" if ext else "no extractor for this data"


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """The bare type and its parameters; the smime-type parameter tells signed from encrypted."""
    head, *rest = value.split(";")
    params = {}
    for item in rest:
        key, _, val = item.partition("=")
        params[key.strip().lower()] = val.strip().strip('"').lower()
    return head.strip().lower(), params


def extension(filename: str) -> str:
    """'.pdf' of 'Report.PDF' (a folder in the name is not part of it); '' if none."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def _byextension(filename: str, ext: str) -> _Sniff | None:
    if filename.replace("\\", "/").rsplit("/", 1)[-1].lower() == "winmail.dat":
        return _Sniff("tnef")
    if ext in _EXTENSION_KINDS:
        return _Sniff(_EXTENSION_KINDS[ext])
    if ext in (".gpg", ".pgp"):
        return _Sniff("encrypted", "encrypted (PGP)")
    if ext in _MEDIA_EXTENSIONS:
        return _Sniff("media", f"{_MEDIA_EXTENSIONS[ext]} (not read)")
    return None


def _by_content_type(ctype: str, params: dict[str, str]) -> _Sniff | None:
    if ctype in _TYPE_KINDS:
        return _Sniff(_TYPE_KINDS[ctype])
    if ctype in _PKCS7_TYPES:
        smime_type = params.get("smime-type", "signed-data")
        if smime_type in ("enveloped-data", "authenveloped-data"):
            return _Sniff("encrypted", f"encrypted (S/MIME {smime_type})")
        if smime_type == "signed-data":
            return _Sniff("smime-signed")
        return _Sniff("unknown", f"S/MIME {smime_type} (not read)")
    if ctype == "application/pgp-encrypted":
        return _Sniff("encrypted", "encrypted (PGP)")
    major = ctype.partition("/")[0]
    if major in ("image", "audio", "video"):
        return _Sniff("media", f"{major} (not read)")
    return None


# Magic numbers ---------------------------------------------------------------

_TNEF_MAGIC = b"\x78\x9f\x3e\x22"  # 0x223E9F78, little-endian
# OLE compound file: legacy .doc/.xls/.ppt, Outlook .msg, and password-protected OOXML.
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_PGP_ARMOR = b"-----BEGIN PGP MESSAGE-----"
_PEM_CMS = re.compile(rb"-----BEGIN (PKCS7|CMS)-----(.*?)-----END \1-----", re.S)
_MEDIA_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF87a", "image"),
    (b"GIF89a", "image"),
    (b"II*\x00", "image"),
    (b"MM\x00*", "image"),
    (b"8BPS", "image"),
    (b"\x00\x00\x01\x00", "image"),  # .ico
    (b"ID3", "audio"),
    (b"OggS", "audio"),
    (b"fLaC", "audio"),
    (b"#!AMR", "audio"),
    (b"MThd", "audio"),
    (b"\x1a\x45\xdf\xa3", "video"),  # Matroska / WebM
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "video"),  # ASF: .wmv / .wma
    (b"FLV\x01", "video"),
)
_RIFF_MEDIA = {b"WEBP": "image", b"WAVE": "audio", b"AVI ": "video"}
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"heim", b"mif1", b"msf1", b"avif"})
_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})
_MP3_SECOND = frozenset(
    {0xFB, 0xFA, 0xF3, 0xF2, 0xE3, 0xE2, 0xF1, 0xF9}
)  # MPEG layer III, ADTS AAC
_ARCHIVES = (
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    (b"Rar!\x1a\x07", "RAR"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
# CMS ContentInfo content types, DER-encoded OIDs.
_CMS_OIDS = (
    (bytes.fromhex("06092a864886f70d010702"), "smime-signed", ""),
    (bytes.fromhex("06092a864886f70d010703"), "encrypted", "encrypted (S/MIME enveloped-data)"),
    (bytes.fromhex("06092a864886f70d010706"), "encrypted", "encrypted (PKCS #7 encrypted-data)"),
    (
        bytes.fromhex("060b2a864886f70d0109100117"),
        "encrypted",
        "encrypted (S/MIME authEnveloped-data)",
    ),
    (
        bytes.fromhex("060b2a864886f70d0109100109"),
        "unknown",
        "S/MIME compressed-data (not read)",
    ),
)


def _by_magic(data: bytes, declared: _Sniff | None) -> _Sniff | None:
    """Kinds that the bytes prove, whatever the name says."""
    head = data[:64]
    lead = data[:1024].lstrip()
    if lead.startswith(b"%PDF-"):
        return _Sniff("pdf")
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return _zip_kind(data, declared)
    if lead.startswith(b"{\\rtf"):
        return _Sniff("rtf")
    if head.startswith(_TNEF_MAGIC):
        return _Sniff("tnef")
    if head.startswith(_CFB_MAGIC):
        if _ENCRYPTED_PACKAGE in data:
            return _Sniff("encrypted", "encrypted (password-protected Office document)")
        return _Sniff("unknown", "legacy Office or Outlook file (not read)")
    if _PGP_ARMOR in data or _openpgp_encrypted(data):
        return _Sniff("encrypted", "encrypted (PGP)")
    cms = _cms_kind(data) or _pem_cms(lead, data)
    if cms is not None:
        return cms
    media = _media_kind(data)
    if media is not None:
        return _Sniff("media", f"{media} (not read)")
    for magic, name in _ARCHIVES:
        if head.startswith(magic):
            return _Sniff("unknown", f"{name} archive (not read)")
    return None


def _media_kind(data: bytes) -> str | None:
    """Images, sound and video: the caller passes them, so they are told by their bytes."""
    for magic, what in _MEDIA_MAGIC:
        if data.startswith(magic):
            return what
    if data[:4] == b"RIFF" and data[8:12] in _RIFF_MEDIA:
        return _RIFF_MEDIA[data[8:12]]
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "image" if brand in _IMAGE_BRANDS else "audio" if brand in _AUDIO_BRANDS else "video"
    if len(data) >= 4 and data[0] == 0xFF and data[1] in _MP3_SECOND:
        return "audio"
    if data[:2] == b"BM" and data[6:10] == b"\x00" * 4 and _le32(data[2:6]) == len(data):
        return "image"
    return None


def _openpgp_encrypted(data: bytes) -> bool:
    """Binary OpenPGP that opens with a session-key packet (tag 1 or 3): an encrypted message."""
    if len(data) < 4 or not data[0] & 0x80:
        return False
    first = data[0]
    if first & 0x40:  # new packet format
        tag, octet = first & 0x3F, data[1]
        header = 2 if octet < 192 else 3 if octet < 224 else 6 if octet == 255 else 0
    else:
        tag, length_type = (first >> 2) & 0x0F, first & 0x03
        header = 1 + (1, 2, 4, 0)[length_type]
    if not header or header >= len(data):
        return False
    version = data[header]
    return (tag == 1 and version in (3, 6)) or (tag == 3 and version in (4, 5, 6))


def _cms_kind(data: bytes) -> _Sniff | None:
    """A DER/BER CMS ContentInfo: an outer SEQUENCE whose first element names the content type."""
    if len(data) < 16 or data[0] != 0x30:
        return None
    octet = data[1]
    header = 2 if octet <= 0x80 else 2 + (octet & 0x7F)
    for oid, kind, note in _CMS_OIDS:
        if data[header : header + len(oid)] == oid:
            return _Sniff(kind, note)
    return None


def _pem_cms(lead: bytes, data: bytes) -> _Sniff | None:
    """S/MIME saved as PEM text ("-----BEGIN PKCS7-----")."""
    if not lead.startswith(b"-----BEGIN "):
        return None
    match = _PEM_CMS.match(data.lstrip())
    if match is None:
        return None
    return _base64_cms(match.group(2)) or _Sniff("smime-signed")


def _base64_cms(data: bytes) -> _Sniff | None:
    """A .p7m or pkcs7-mime body left in base64: decode it and look again."""
    text = b"".join(data.split())
    if not text or len(text) > 64 * 1024 * 1024:
        return None
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    found = _cms_kind(der)
    return None if found is None else _Sniff(found.kind, found.note, der)


def _zip_kind(data: bytes, declared: _Sniff | None) -> _Sniff:
    """Which zip-based format: ODF names itself in ``mimetype``; OOXML by its main parts."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            locked = next((i for i in infos if i.flag_bits & 0x1), None)
            if locked is not None:
                return _Sniff("encrypted", f"encrypted (zip member {locked.filename!r})")
            names = {i.filename for i in infos}
            if "mimetype" in names:
                odf = _odf_kind(z)
                if odf is not None:
                    return odf
            if "[Content_Types].xml" in names:
                if "word/document.xml" in names:
                    return _Sniff("docx")
                if any(n.startswith("xl/") for n in names):
                    return _Sniff("xlsx")
                if any(n.startswith("ppt/") for n in names):
                    return _Sniff("pptx")
            return _Sniff("zip")
    except Exception:  # a zip that does not open: trust the name for which reader fails
        return declared if declared is not None and declared.kind in _ZIP_KINDS else _Sniff("zip")


def _odf_kind(z: zipfile.ZipFile) -> _Sniff | None:
    with z.open("mimetype") as f:
        mimetype = f.read(200).decode("ascii", "replace").strip()
    kind = _ODF_TYPES.get(mimetype.removesuffix("-template"))
    if kind is None:
        return None
    try:
        with z.open("META-INF/manifest.xml") as f:
            manifest = f.read(1 << 20)
    except KeyError:
        manifest = b""
    if b"encryption-data" in manifest:
        return _Sniff("encrypted", f"encrypted (password-protected {kind.upper()})")
    return _Sniff(kind)


# -- text ----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\ufffd]")
_TEXT_WINDOW = 1 << 20


def _decode_text(data: bytes) -> str | None:
    """The data as text if it reads as text: UTF-8/16 with a BOM, UTF-8, or 8-bit without NULs."""
    text: str | None = None
    try:
        if data.startswith(codecs.BOM_UTF8):
            text = data[3:].decode("utf-8")
        elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            text = data.decode("utf-16")
        elif b"\x00" not in data:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("cp1252", errors="replace")
    except UnicodeDecodeError:
        return None
    if text is None:
        return None
    window = text[:_TEXT_WINDOW]
    bad = sum(1 for _ in _CONTROL.finditer(window))
    return text if bad <= len(window) // 100 else None


def _text(data: bytes, limits: _Limits) -> Extracted:
    text = _decode_text(data)
    if text is None:
        raise _Unreadable("the data is not text")
    return Extracted(text, "text")


# -- XML in office zips --------------------------------------------------------

_P = r"(?:[\w.-]++:)?"  # any namespace prefix: producers other than Office choose their own
_ODF_SPACES = re.compile(r"<text:s\b([^<>]*)/>")
_ODF_COUNT = re.compile(r'\bc="(\d{1,6})"')
_LAST_IN_CELL = re.compile(rf"</{_P}p>\s*(?=</{_P}(?:tc|table-cell)>)")  # a cell's own line end
_BREAK = re.compile(rf"</{_P}(?:p|h|tr|table-row)>|<{_P}(?:br|cr|line-break)\b[^<>]*>")
_CELL = re.compile(rf"</{_P}(?:tc|table-cell)>|<{_P}tab\b[^<>]*/>")
_TAG = re.compile(r"<[^<>]*>")


def _inside(tag: str) -> str:
    """An element's content up to its end tag, never past another of its start tags.

    Possessive and tempered, so that a part full of unclosed tags costs linear
    time rather than a rescan to the end from each of them.
    """
    return rf"(?:[^<]++|<(?!/?{_P}{tag}\b))*+"


def _escape_cdata(xml: str) -> str:
    """CDATA holds text verbatim: escape it so that the tag strip keeps it (linear, no regex)."""
    start = xml.find("<![CDATA[")
    if start < 0:
        return xml
    out: list[str] = []
    pos = 0
    while start >= 0:
        end = xml.find("]]>", start + 9)
        if end < 0:
            break
        out += (xml[pos:start], html.escape(xml[start + 9 : end], quote=False))
        pos = end + 3
        start = xml.find("<![CDATA[", pos)
    out.append(xml[pos:])
    return "".join(out)


def _decode_xml(raw: bytes) -> str:
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return raw.decode("utf-16", errors="replace")
    if raw[:2] == b"<\x00":
        return raw.decode("utf-16-le", errors="replace")
    if raw[:2] == b"\x00<":
        return raw.decode("utf-16-be", errors="replace")
    return raw.decode("utf-8-sig", errors="replace")


def _xml_text(xml: str) -> str:
    """The character data of an XML part, paragraphs as lines and cells as tabs.

    A regular-expression strip, not a parser: it never expands entities (no
    billion laughs), does not care which namespace prefix a producer chose, and
    is fast on large parts. Only the predefined and numeric references are
    unescaped, which is all that Office and ODF write.
    """
    xml = _escape_cdata(xml)
    xml = _ODF_SPACES.sub(lambda m: " " * _odf_space_count(m.group(1)), xml)
    xml = _CELL.sub("\t", _BREAK.sub("\n", _LAST_IN_CELL.sub("", xml)))
    return html.unescape(_TAG.sub("", xml))


def _odf_space_count(attributes: str) -> int:
    match = _ODF_COUNT.search(attributes)
    return min(int(match.group(1)), 100) if match else 1


def _natural(name: str) -> list[tuple[int, int, str]]:
    """slide2 before slide10."""
    pieces = re.split(r"([0-9]+)", name)  # odd places hold the digits
    return [(0, int(p), "") if k % 2 else (1, 0, p) for k, p in enumerate(pieces)]


def _open_zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, limits: _Limits, what: str) -> bytes:
    """One member, trusted for neither its declared size nor its compression ratio."""
    limits.tick(what)
    if info.flag_bits & 0x1:
        raise _Unreadable(f"encrypted (zip member {info.filename!r})", "encrypted")
    limits.spend(info.file_size, what)
    with z.open(info) as f:
        blob = f.read(info.file_size + 1)
    if len(blob) > info.file_size:
        raise _Unreadable(f"{what} member {info.filename!r} is larger than it declares")
    return blob


def _read_parts(z: zipfile.ZipFile, names: Iterable[str], limits: _Limits, what: str) -> list[str]:
    return [_xml_text(_decode_xml(_read_member(z, z.getinfo(n), limits, what))) for n in names]


def _xml_parts(names: Iterable[str], root: str, skip: Callable[[str], bool]) -> list[str]:
    return sorted(
        (n for n in names if n.startswith(root) and n.endswith(".xml") and not skip(n)),
        key=_natural,
    )


def _embedded(
    z: zipfile.ZipFile, limits: _Limits, what: str, wanted: Callable[[str], bool]
) -> tuple[tuple[str, bytes], ...]:
    """Files embedded in a document (a workbook in a Word file): a person can open them too."""
    infos = [i for i in z.infolist() if not i.is_dir() and wanted(i.filename)]
    if len(infos) > limits.max_members:
        raise _Unreadable(f"{what} embeds {len(infos)} files (more than {limits.max_members})")
    return tuple((i.filename, _read_member(z, i, limits, what)) for i in infos)


def _join(texts: Iterable[str]) -> str:
    return "\n".join(t.strip("\n") for t in texts if t.strip())


def _skipper(*, basenames: frozenset[str], folders: tuple[str, ...]) -> Callable[[str], bool]:
    """Parts that hold no text a person reads (styles, themes, settings)."""

    def skip(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return base in basenames or any(f"/{folder}/" in f"/{name}" for folder in folders)

    return skip


_DOCX_SKIP = _skipper(
    basenames=frozenset(
        {
            "styles.xml",
            "stylesWithEffects.xml",
            "settings.xml",
            "fontTable.xml",
            "webSettings.xml",
            "numbering.xml",
            "people.xml",
            "commentsIds.xml",
            "commentsExtensible.xml",
            "commentsExtended.xml",
        }
    ),
    folders=("theme", "_rels", "customXml"),
)


def _docx(data: bytes, limits: _Limits) -> Extracted:
    """The body, then headers, footers, footnotes, endnotes, comments and text boxes' parts."""
    with _open_zip(data) as z:
        names = z.namelist()
        parts = _xml_parts(names, "word/", _DOCX_SKIP)
        parts.sort(key=lambda n: n != "word/document.xml")
        text = _join(_read_parts(z, parts, limits, "DOCX"))
        members = _embedded(z, limits, "DOCX", lambda n: n.startswith("word/embeddings/"))
    return Extracted(text, "docx", members=members)


_XLSX_SKIP = _skipper(
    basenames=frozenset(
        {
            "workbook.xml",
            "styles.xml",
            "calcChain.xml",
            "sharedStrings.xml",
            "connections.xml",
            "metadata.xml",
            "volatileDependencies.xml",
        }
    ),
    folders=("theme", "_rels", "worksheets", "persons", "printerSettings"),
)
_SHEET_NAME = re.compile(rf'<{_P}sheet\b[^<>]*?\bname="([^"]*)"')
_SHARED = re.compile(rf"<{_P}si\b[^<>]*?(?:/>|>({_inside('si')})</{_P}si>)")
_PHONETIC = re.compile(rf"<{_P}rPh\b{_inside('rPh')}</{_P}rPh>")
_CELL_OR_ROW = re.compile(rf"<{_P}c\b([^<>]*?)(?:/>|>({_inside('c')})</{_P}c>)|</{_P}row>")
_CELL_TYPE = re.compile(r'\bt="([^"]*)"')
_VALUE = re.compile(rf"<{_P}v>([^<]*)</{_P}v>")
_INLINE = re.compile(rf"<{_P}is>({_inside('is')})</{_P}is>")
_HEADER_FOOTER = re.compile(rf"<{_P}(?:odd|even|first)(?:Header|Footer)>([^<]*)</")


def _xlsx(data: bytes, limits: _Limits) -> Extracted:
    """Every sheet's cells in order (shared, inline and literal values), then notes and drawings."""
    with _open_zip(data) as z:
        names = z.namelist()
        shared = _shared_strings(z, names, limits)
        texts = []
        if "xl/workbook.xml" in names:
            workbook = _decode_xml(_read_member(z, z.getinfo("xl/workbook.xml"), limits, "XLSX"))
            texts.append("\n".join(html.unescape(n) for n in _SHEET_NAME.findall(workbook)))
        sheets = sorted(
            (n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")),
            key=_natural,
        )
        for name in (n for n in sheets if "/_rels/" not in n):
            xml = _decode_xml(_read_member(z, z.getinfo(name), limits, "XLSX"))
            limits.tick("XLSX")
            texts.append(_sheet_text(xml, shared))
        texts += _read_parts(z, _xml_parts(names, "xl/", _XLSX_SKIP), limits, "XLSX")
        members = _embedded(z, limits, "XLSX", lambda n: n.startswith("xl/embeddings/"))
    return Extracted(_join(texts), "xlsx", members=members)


def _shared_strings(z: zipfile.ZipFile, names: list[str], limits: _Limits) -> list[str]:
    if "xl/sharedStrings.xml" not in names:
        return []
    xml = _decode_xml(_read_member(z, z.getinfo("xl/sharedStrings.xml"), limits, "XLSX"))
    return [_xml_text(_PHONETIC.sub("", m.group(1) or "")) for m in _SHARED.finditer(xml)]


def _sheet_text(xml: str, shared: list[str]) -> str:
    """Cells as a person sees them: rows as lines, cells as tabs, header and footer after."""
    lines: list[str] = []
    row: list[str] = []
    for match in _CELL_OR_ROW.finditer(xml):
        if match.group(0).startswith("</"):
            if row:
                lines.append("\t".join(row))
            row = []
            continue
        value = _cell_value(match.group(1), match.group(2) or "", shared)
        if value:
            row.append(value)
    if row:
        lines.append("\t".join(row))
    lines += (_xml_text(m.group(1)) for m in _HEADER_FOOTER.finditer(xml))
    return "\n".join(lines)


def _cell_value(attributes: str, inner: str, shared: list[str]) -> str:
    kind = _CELL_TYPE.search(attributes)
    if kind is not None and kind.group(1) == "inlineStr":
        inline = _INLINE.search(inner)
        return _xml_text(inline.group(1)) if inline else ""
    value = _VALUE.search(inner)
    if value is None:
        return ""
    raw = html.unescape(value.group(1)).strip()
    if kind is not None and kind.group(1) == "s":
        index = int(raw) if raw.isascii() and raw.isdigit() else -1
        return shared[index] if 0 <= index < len(shared) else ""
    return raw


_PPTX_SKIP = _skipper(
    basenames=frozenset(
        {
            "presentation.xml",
            "presProps.xml",
            "viewProps.xml",
            "tableStyles.xml",
            "commentAuthors.xml",
        }
    ),
    folders=("theme", "_rels", "slides", "notesSlides", "tags", "printerSettings"),
)


def _pptx(data: bytes, limits: _Limits) -> Extracted:
    """Slides in order, then speaker notes, then comments, masters, charts and diagrams."""
    with _open_zip(data) as z:
        names = z.namelist()

        def folder(prefix: str) -> list[str]:
            return _xml_parts(names, prefix, lambda n: "/_rels/" in n)

        parts = folder("ppt/slides/") + folder("ppt/notesSlides/")
        parts += _xml_parts(names, "ppt/", _PPTX_SKIP)
        text = _join(_read_parts(z, parts, limits, "PPTX"))
        members = _embedded(z, limits, "PPTX", lambda n: n.startswith("ppt/embeddings/"))
    return Extracted(text, "pptx", members=members)


_ODF_SKIP = _skipper(
    basenames=frozenset({"meta.xml", "settings.xml", "manifest.xml"}),
    folders=("META-INF", "Configurations2", "Thumbnails"),
)


def _odf(kind: str) -> Callable[[bytes, _Limits], Extracted]:
    """ODT, ODS and ODP alike: content.xml, then styles.xml (headers, footers), then embedded objects."""
    label = kind.upper()

    def read(data: bytes, limits: _Limits) -> Extracted:
        with _open_zip(data) as z:
            names = z.namelist()
            order = {"content.xml": 0, "styles.xml": 1}
            parts = _xml_parts(names, "", _ODF_SKIP)
            parts.sort(key=lambda n: order.get(n, 2))
            text = _join(_read_parts(z, parts, limits, label))
            members = _embedded(
                z,
                limits,
                label,
                lambda n: n.startswith("Object ") and not n.endswith(".xml") and "/" not in n,
            )
        return Extracted(text, kind, members=members)

    return read


# -- zip -----------------------------------------------------------------------


def _zip(data: bytes, limits: _Limits) -> Extracted:
    """An archive's files, handed back as members; its text is the list of names (names can speak)."""
    with _open_zip(data) as z:
        files = [i for i in z.infolist() if not i.is_dir()]
        if len(files) > limits.max_members:
            raise _Unreadable(f"zip holds {len(files)} files (more than {limits.max_members})")
        locked = next((i for i in files if i.flag_bits & 0x1), None)
        if locked is not None:
            raise _Unreadable(f"encrypted (zip member {locked.filename!r})", "encrypted")
        total = sum(i.file_size for i in files)
        if total > limits.max_bytes:
            raise _Unreadable(
                f"zip expands to {_size(total)} (more than {_size(limits.max_bytes)})"
            )
        members = tuple((i.filename, _read_member(z, i, limits, "zip")) for i in files)
    return Extracted("\n".join(i.filename for i in files), "zip", members=members)


# -- RTF -----------------------------------------------------------------------

_RTF_TOKEN = re.compile(
    r"\\([a-zA-Z]{1,32})(-?[0-9]{1,10})? ?"  # 1, 2: control word and parameter
    r"|\\'([0-9a-fA-F]{2})"  # 3: a byte in the current code page
    r"|\\(.)"  # 4: control symbol
    r"|([{}])"  # 5: group
    r"|([^\\{}\r\n]+)"  # 6: text
    r"|[\r\n]+|\\",  # ignored: raw line ends, a lone backslash at the end
    re.S,
)
# Destinations that hold no text a person reads (tables, pictures, metadata, bookmarks).
_RTF_SKIP = frozenset(
    _words(
        "colortbl stylesheet info pict themedata colorschememapping datastore latentstyles "
        "listtable listoverridetable rsidtbl generator xmlnstbl filetbl revtbl pgptbl objdata "
        "bkmkstart bkmkend nonshppict sp fldtype template userprops docvar xmlopen xmlclose "
        "xmlattrname xmlattrvalue falt panose fontemb fontfile keycode listpicture atnid "
        "atnauthor atndate atnref atnicn atnparent atntime protusertbl passwordhash password "
        "blipuid wgrffmtfilter mmathPr "
    )
)
# {\*\...} destinations that do hold text: comments, field codes (hyperlinks), text boxes.
_RTF_STARRED_TEXT = frozenset(
    {"annotation", "fldinst", "shpinst", "shptxt", "do", "ud", "footnote"}
)
_RTF_WORDS = {
    "par": "\n",
    "line": "\n",
    "sect": "\n",
    "page": "\n",
    "row": "\n",
    "cell": "\t",
    "nestcell": "\t",
    "tab": "\t",
    "emdash": "\u2014",
    "endash": "\u2013",
    "emspace": "\u2003",
    "enspace": "\u2002",
    "qmspace": "\u2005",
    "bullet": "\u2022",
    "lquote": "\u2018",
    "rquote": "\u2019",
    "ldblquote": "\u201c",
    "rdblquote": "\u201d",
}
_RTF_SYMBOLS = {
    "\\": "\\",
    "{": "{",
    "}": "}",
    "~": "\xa0",
    "_": "\u2011",
    "\n": "\n",
    "\r": "\n",
    "\t": "\t",
}
_RTF_CHARSETS = {
    2: "cp1252",
    77: "mac_roman",
    128: "cp932",
    129: "cp949",
    130: "johab",
    134: "gbk",
    136: "cp950",
    161: "cp1253",
    162: "cp1254",
    163: "cp1258",
    177: "cp1255",
    178: "cp1256",
    186: "cp1257",
    204: "cp1251",
    222: "cp874",
    238: "cp1250",
    254: "cp437",
    255: "cp850",
}
_TEXT, _FONTS = 0, 1  # what a group's characters are: text, or font definitions


class _RtfReader:
    """A small RTF-to-text reader, written for what a scanner needs.

    Unlike a converter for display it keeps the text that a recipient can see
    but that is off the main flow: headers, footers, footnotes, comments, text
    boxes and hyperlink targets. It drops only destinations known to hold no
    text, skips ``\\bin`` data by its length, decodes ``\\'hh`` in the code page
    of the current font (so double-byte text survives), honours ``\\ucN`` after
    ``\\uN``, and reports a file whose groups never close as truncated.
    """

    def __init__(self, limits: _Limits) -> None:
        self.limits = limits
        self.out: list[str] = []
        self.pending = bytearray()  # \'hh bytes waiting to be decoded together
        self.pending_codec = "cp1252"
        self.default_codec = "cp1252"
        self.fonts: dict[int, str] = {}
        self.font_being_defined = -1
        self.default_font = -1
        # per group: (text or font table, \uc count, code page)
        self.dest, self.uc, self.codec = _TEXT, 1, "cp1252"
        self.stack: list[tuple[int, int, str]] = []
        self.skip_chars = 0  # fallback characters still to skip after \uN
        self.starred = False  # \* seen at the start of this group
        self.fresh = False  # nothing but "{" (and \*) read in this group yet

    def read(self, text: str) -> str:
        pos, end, count = 0, len(text), 0
        while pos < end:
            for match in _RTF_TOKEN.finditer(text, pos):
                count += 1
                if not count & 0xFFF:
                    self.limits.tick("RTF")
                index = match.lastindex
                if index == 3:
                    self.hex(int(match.group(3), 16))
                    continue
                if self.pending:
                    self.flush()
                if index == 6:
                    self.chars(match.group(6))
                elif index == 5:
                    self.group(match.group(5))
                elif index == 4:
                    self.symbol(match.group(4))
                elif index is not None:
                    pos = self.control(match.group(1), match.group(2), text, match.end())
                    if pos != match.end():
                        break  # \bin data or a skipped group: go on from past it
            else:
                break
        self.flush()
        if self.stack:
            open_groups = len(self.stack)
            raise _Unreadable(
                f"RTF is truncated ({open_groups} group{'s' * (open_groups > 1)} left open)"
            )
        joined = "".join(self.out)
        return joined.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def group(self, brace: str) -> None:
        self.skip_chars = 0
        self.starred = False
        self.fresh = brace == "{"
        if brace == "{":
            self.stack.append((self.dest, self.uc, self.codec))
        elif self.stack:
            self.dest, self.uc, self.codec = self.stack.pop()

    def symbol(self, symbol: str) -> None:
        if symbol == "*":
            self.starred = self.fresh
            return
        self.starred = self.fresh = False
        if symbol in _RTF_SYMBOLS:
            self.emit(_RTF_SYMBOLS[symbol])

    def control(self, word: str, param: str | None, text: str, pos: int) -> int:
        """Act on a control word; return where reading goes on (past \\bin data or a skipped group)."""
        # A destination is named by a group's first word; anywhere else it is read past,
        # so a misplaced one can only make more text read, never hide any.
        fresh, starred = self.fresh, self.starred
        self.fresh = self.starred = False
        if word == "bin" and param is not None:
            return pos + max(int(param), 0)  # raw bytes: never text
        if fresh and (word in _RTF_SKIP or (starred and word not in _RTF_STARRED_TEXT)):
            return _end_of_group(text, pos)
        number = int(param) if param is not None else None
        if word == "fonttbl" and fresh:
            self.dest = _FONTS
        elif self.dest == _FONTS:
            self.font_table(word, number)
        elif self.dest == _TEXT:
            self.text_control(word, number)
        return pos

    def font_table(self, word: str, number: int | None) -> None:
        if word == "f" and number is not None:
            self.font_being_defined = number
        elif word == "fcharset" and number in _RTF_CHARSETS:
            self.fonts[self.font_being_defined] = _RTF_CHARSETS[number]
        elif word == "cpg" and number is not None and _codec_exists(f"cp{number}"):
            self.fonts[self.font_being_defined] = f"cp{number}"

    def text_control(self, word: str, number: int | None) -> None:
        if word in _RTF_WORDS:
            self.emit(_RTF_WORDS[word])
        elif word == "u" and number is not None:
            if -32768 <= number <= 65535:
                self.emit(chr(number % 65536))
            self.skip_chars = self.uc
        elif word == "uc" and number is not None:
            self.uc = max(0, min(number, 16))
        elif word == "f" and number is not None:
            self.codec = self.fonts.get(number, self.default_codec)
        elif word == "plain":
            self.codec = self.fonts.get(self.default_font, self.default_codec)
        elif word == "deff" and number is not None:
            self.default_font = number
        elif word == "ansicpg" and number is not None and _codec_exists(f"cp{number}"):
            self.default_codec = self.codec = f"cp{number}"
        elif word in ("mac", "pc", "pca"):
            self.default_codec = self.codec = {"mac": "mac_roman", "pc": "cp437", "pca": "cp850"}[
                word
            ]

    def chars(self, chars: str) -> None:
        self.fresh = False
        if self.skip_chars:
            cut = min(self.skip_chars, len(chars))
            self.skip_chars -= cut
            chars = chars[cut:]
        if chars and self.dest == _TEXT:
            # Text runs were decoded as Latin-1 to keep every byte; re-read them in the code page.
            self.out.append(chars.encode("latin-1").decode(self.codec, errors="replace"))

    def hex(self, byte: int) -> None:
        self.fresh = False
        if self.skip_chars:
            self.skip_chars -= 1
            return
        if self.dest != _TEXT:
            return
        if self.pending and self.pending_codec != self.codec:
            self.flush()
        self.pending_codec = self.codec
        self.pending.append(byte)

    def flush(self) -> None:
        if self.pending:
            self.out.append(bytes(self.pending).decode(self.pending_codec, errors="replace"))
            self.pending.clear()

    def emit(self, text: str) -> None:
        if self.dest == _TEXT:
            self.out.append(text)


_RTF_BRACES = re.compile(r"\\bin(-?[0-9]{1,10}) ?|\\[{}\\]|([{}])")


def _end_of_group(text: str, pos: int) -> int:
    """Where the current group closes (at its "}"), found without reading what is skipped.

    Pictures, style sheets and other skipped destinations are most of a large
    RTF's bytes; only braces, escaped braces and \\bin lengths matter inside them.
    """
    depth = 1
    while True:
        for match in _RTF_BRACES.finditer(text, pos):
            if match.group(1) is not None:
                pos = match.end() + max(int(match.group(1)), 0)
                break
            brace = match.group(2)
            if brace == "{":
                depth += 1
            elif brace == "}":
                depth -= 1
                if depth == 0:
                    return match.start()
        else:
            return len(text)


def _codec_exists(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _rtf_text(data: bytes, limits: _Limits) -> str:
    return _RtfReader(limits).read(data.decode("latin-1"))


def _rtf(data: bytes, limits: _Limits) -> Extracted:
    return Extracted(_rtf_text(data, limits), "rtf")


# -- TNEF (winmail.dat) --------------------------------------------------------

_COMPRESSED_RTF_PER_SECOND = 512 * 1024  # compressed_rtf decompresses ~1 MB/s in pure Python


def _check_tnef(data: bytes) -> None:
    """Walk the attribute headers: tnefparse silently shortens a cut-off attribute."""
    offset = 6
    while offset < len(data):
        left = len(data) - offset
        if left < 12 and not data[offset:].strip(b"\x00"):
            return  # padding
        if left < 9:
            raise _Unreadable("TNEF is truncated")
        (length,) = struct.unpack_from("<I", data, offset + 5)
        offset += 9 + length + 2
        if offset > len(data):
            raise _Unreadable("TNEF is truncated")


def _tnef(data: bytes, limits: _Limits) -> Extracted:
    """The message's subject and bodies as text, its HTML body and attachments as members."""
    from tnefparse.tnef import TNEF  # type: ignore[import-untyped]

    _check_tnef(data)
    tnef = TNEF(data, do_checksum=False)
    codepage = tnef.codepage or "cp1252"
    texts = [_as_str(o.data, codepage) for o in tnef.msgprops if o.name == TNEF.ATTSUBJECT]
    texts.append(_as_str(tnef.body, codepage))
    compressed = getattr(tnef, "_rtfbody", None)  # tnefparse's rtfbody decompresses unbounded
    if compressed:
        texts.append(_rtf_text(_decompress_rtf(bytes(compressed), limits), limits))
    members: list[tuple[str, bytes]] = []
    if tnef.htmlbody:
        html_body = tnef.htmlbody
        members.append(
            ("body.html", html_body.encode() if isinstance(html_body, str) else html_body)
        )
    for number, attachment in enumerate(tnef.attachments, 1):
        name = _as_str(attachment.long_filename(), codepage) or f"attachment-{number}"
        payload = bytes(attachment.data or b"")
        limits.spend(len(payload), "TNEF")
        members.append((name, payload))
    if len(members) > limits.max_members:
        raise _Unreadable(f"TNEF holds {len(members)} files (more than {limits.max_members})")
    return Extracted(_join(texts), "tnef", members=tuple(members))


def _as_str(value: object, codepage: str) -> str:
    if isinstance(value, str):
        return value.strip("\x00")
    if isinstance(value, bytes | bytearray):
        codec = codepage if _codec_exists(codepage) else "cp1252"
        return bytes(value).decode(codec, errors="replace").strip("\x00")
    return ""


def _decompress_rtf(compressed: bytes, limits: _Limits) -> bytes:
    """Outlook's compressed RTF body, refused when it could not be undone within the deadline."""
    from compressed_rtf import decompress  # type: ignore[import-untyped]

    if len(compressed) < 16:
        raise _Unreadable("TNEF RTF body is truncated")
    size, raw_size = struct.unpack_from("<II", compressed)
    if raw_size > limits.max_bytes:
        raise _Unreadable(f"TNEF RTF body expands beyond {_size(limits.max_bytes)} (not read)")
    if size > limits.seconds * _COMPRESSED_RTF_PER_SECOND:
        raise _Unreadable(f"TNEF RTF body is too large to read in {limits.seconds:g}s")
    # tnefparse strips trailing NULs from binary properties; the CRC covers them.
    body = compressed.ljust(size + 4, b"\x00")
    out: bytes = decompress(body)
    limits.spend(len(out), "TNEF")
    limits.tick("TNEF")
    return out


# -- S/MIME signed-data --------------------------------------------------------


def _smime(data: bytes, limits: _Limits) -> Extracted:
    """Opaque signed-data carries the message inside the signature: hand it back as MIME."""
    from asn1crypto import cms  # type: ignore[import-untyped]

    info = cms.ContentInfo.load(data)
    content_type = info["content_type"].native
    if content_type in ("enveloped_data", "authenticated_enveloped_data", "encrypted_data"):
        raise _Unreadable(f"encrypted (S/MIME {content_type.replace('_', '-')})", "encrypted")
    if content_type != "signed_data":
        raise _Unreadable(f"S/MIME {str(content_type).replace('_', '-')} (not read)", "unknown")
    encapsulated = info["content"]["encap_content_info"]
    content = encapsulated["content"].native
    if content is None:
        return Extracted("", "smime-signed")  # a detached signature: nothing to read
    if not isinstance(content, bytes):
        raise _Unreadable(
            f"S/MIME signed {encapsulated['content_type'].native} (not read)", "smime-signed"
        )
    limits.spend(len(content), "S/MIME")
    return Extracted("", "smime-signed", members=(("smime-content.eml", content),))


# -- PDF -----------------------------------------------------------------------


def _pdf(data: bytes, limits: _Limits) -> Extracted:
    """Page text, then comments (annotations) and filled-in form fields."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception:  # noqa: BLE001 - a damaged table of contents: rebuild it, as viewers do
        rebuilt = _pdf_with_rebuilt_xref(data)
        if rebuilt is None:
            raise
        reader = PdfReader(io.BytesIO(rebuilt), strict=False)
    if reader.is_encrypted and not _pdf_opens(reader):
        raise _Unreadable("encrypted (password-protected PDF)", "encrypted")
    texts: list[str] = []
    for page in reader.pages:
        limits.tick("PDF")
        text = page.extract_text() or ""
        limits.spend(len(text), "PDF")
        texts.append(text)
        texts += _annotations(page)
    fields = reader.get_fields() or {}
    texts += (str(f.get("/V")) for f in fields.values() if isinstance(f.get("/V"), str))
    return Extracted(_join(texts), "pdf")


_PDF_OBJECT = re.compile(rb"(?<![0-9])([0-9]{1,7})[ \t\r\n]+([0-9]{1,5})[ \t\r\n]+obj\b")
_PDF_CATALOG = re.compile(rb"/Type[ \t\r\n]*/Catalog\b")


def _pdf_with_rebuilt_xref(data: bytes) -> bytes | None:
    """``data`` with a new cross-reference table found by scanning for its objects
    (``N G obj``; the last of a number wins, as incremental updates append), and a
    trailer naming the catalog; None if it has no objects or no catalog. This is
    what PDF viewers do with a file whose table or ``startxref`` is missing."""
    offsets: dict[int, tuple[int, int]] = {}
    root = None
    matches = list(_PDF_OBJECT.finditer(data))
    for m, after in zip(matches, [*matches[1:], None], strict=True):
        number = int(m.group(1))
        offsets[number] = (m.start(), int(m.group(2)))
        end = after.start() if after is not None else len(data)
        if _PDF_CATALOG.search(data, m.end(), end):
            root = (number, int(m.group(2)))
    if not offsets or root is None:
        return None
    size = max(offsets) + 1
    table = [b"xref\n0 %d\n0000000000 65535 f\r\n" % size]
    for number in range(1, size):
        offset, generation = offsets.get(number, (0, 65535))
        kind = b"n" if number in offsets else b"f"
        table.append(b"%010d %05d %s\r\n" % (offset, generation, kind))
    start = len(data) + 1
    return (
        data
        + b"\n"
        + b"".join(table)
        + b"trailer\n<< /Size %d /Root %d %d R >>\nstartxref\n%d\n%%%%EOF\n"
        % (size, root[0], root[1], start)
    )


def _pdf_opens(reader: PdfReader) -> bool:
    """Many PDFs are encrypted only against editing: the empty user password opens them."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # pypdf raises for ciphers it cannot do
        return False


def _annotations(page: PageObject) -> list[str]:
    """Sticky notes and other comments: shown to whoever opens the PDF."""
    annots = page.get("/Annots")
    if annots is None:
        return []
    texts = []
    for ref in annots.get_object():
        annot = ref.get_object()
        contents = annot.get("/Contents") if hasattr(annot, "get") else None
        if contents:
            texts.append(str(contents))
    return texts


# -- extract -------------------------------------------------------------------

_EXTRACTORS: dict[str, Callable[[bytes, _Limits], Extracted]] = {
    "pdf": _pdf,
    "docx": _docx,
    "xlsx": _xlsx,
    "pptx": _pptx,
    "odt": _odf("odt"),
    "ods": _odf("ods"),
    "odp": _odf("odp"),
    "rtf": _rtf,
    "zip": _zip,
    "tnef": _tnef,
    "smime-signed": _smime,
    "text": _text,
}


def extract(
    filename: str,
    content_type: str,
    data: bytes,
    *,
    max_bytes: int = 25 * 1024 * 1024,
    max_members: int = 200,
    deadline_seconds: float = 5.0,
) -> Extracted:
    """The text a person would read in an attachment, or why it could not be read. Never raises."""
    try:
        data = bytes(data)
        sniff = _sniff(filename or "", content_type or "", data)
    except Exception as exc:
        return Extracted(None, "unknown", f"the format could not be told ({type(exc).__name__})")
    reader = _EXTRACTORS.get(sniff.kind)
    if reader is None:  # media, encrypted, unknown: nothing to read
        return Extracted(None, sniff.kind, sniff.note or "not read")
    payload = data if sniff.payload is None else sniff.payload
    label = _LABELS[sniff.kind]
    if len(payload) > max_bytes:
        return Extracted(None, sniff.kind, f"{label} larger than {_size(max_bytes)} (not read)")
    limits = _Limits.start(max_bytes, max_members, deadline_seconds)
    try:
        return reader(payload, limits)
    except _Unreadable as exc:
        return Extracted(None, exc.kind or sniff.kind, exc.reason)
    except Exception as exc:  # a broken file is unreadable, never fatal
        return Extracted(None, sniff.kind, f"{label} could not be read ({type(exc).__name__})")
