"""parse_bytes is email.message_from_bytes, faster for one-part messages."""

import email
import random

from gateway.read.message import parse_bytes

HEADERS = [
    "From: A <a@school.example>",
    "To: p@home.example",
    "Subject: hi",
    "Subject: =?utf-8?q?caf=C3=A9?=",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Type: text/html",
    "Content-Type: multipart/mixed; boundary=b",
    "Content-Type: message/rfc822",
    "Content-Type: multipart/alternative",
    "Content-Transfer-Encoding: base64",
    "X-Folded: one",
    " two",
    "\tthree",
    "not a header line",
    "From nobody",
    "Bad Header: x",
    ": empty name",
    "X-8bit: caf\xc3\xa9",
]
BODY = [
    "hello",
    "",
    "--b",
    "--b--",
    "Content-Type: text/plain",
    ".",
    "From: inside@body.example",
    "caf\xc3\xa9",
    "=20",
]
ENDINGS = ["\r\n", "\r\n", "\n", "\r"]


def _message(rng: random.Random) -> bytes:
    lines = [rng.choice(HEADERS) for _ in range(rng.randint(0, 6))]
    if rng.random() < 0.9:
        lines.append("")
    lines += [rng.choice(BODY) for _ in range(rng.randint(0, 8))]
    out = "".join(line + rng.choice(ENDINGS) for line in lines)
    if rng.random() < 0.3:
        out = out.rstrip("\r\n")
    return out.encode("latin-1")


def _shape(msg) -> tuple:
    payload = msg.get_payload()
    return (
        msg.items(),
        [type(d).__name__ for d in msg.defects],
        msg.get_unixfrom(),
        [_shape(p) for p in payload] if isinstance(payload, list) else payload,
    )


def test_parse_bytes_equals_the_stdlib_parser():
    rng = random.Random(5)
    fast = 0
    for _ in range(5000):
        raw = _message(rng)
        assert _shape(parse_bytes(raw)) == _shape(email.message_from_bytes(raw)), raw
        fast += not email.message_from_bytes(raw).is_multipart()
    assert fast > 1000  # the one-part path was taken often
