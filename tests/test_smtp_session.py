"""GatewaySMTP reads DATA as aiosmtpd does: same replies, same messages, same smuggling defence.

Both sessions run over loopback and get the same random byte streams:
lines ending in CRLF, bare LF or bare CR, dot-stuffed lines, lone dots on
every kind of line ending, lines over the length limit, and data past the
end of the message. Their replies and the messages they hand over must be
identical. The line-length limit is lowered so that aiosmtpd's reader
overruns (and GatewaySMTP's chunked reads split lines) all the time.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from aiosmtpd.smtp import SMTP

from gateway.receive.session import GatewaySMTP, _parse_address

LINE_LIMIT = 120


class Recorder:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.gateway = self  # GatewaySMTP tells its handler's gateway when a connection closes

    def connection_closed(self) -> None:
        pass

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope.original_content)
        return "250 2.0.0 Ok"


class StockSMTP(SMTP):
    line_length_limit = LINE_LIMIT


class OurSMTP(GatewaySMTP):
    line_length_limit = LINE_LIMIT


class StockLongLines(SMTP):
    line_length_limit = GatewaySMTP.line_length_limit


# Either lines over the limit or a small size limit, never both: when a
# message breaks both, aiosmtpd answers whichever it meets first and
# GatewaySMTP always the size (see _read_data).
PAIRS = {
    "short line limit": (StockSMTP, OurSMTP, 10_000_000),
    "small size limit": (StockLongLines, GatewaySMTP, 400),
}


async def _exchange(protocol_class, size_limit: int, stream: bytes) -> tuple[bytes, list[bytes]]:
    recorder = Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: protocol_class(recorder, hostname="t", data_size_limit=size_limit), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(stream)
    await writer.drain()
    replies = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    server.close()
    await server.wait_closed()
    return replies, recorder.messages


PIECES = [
    b"hello",
    b"x" * 40,
    b".",
    b"..",
    b". ",
    b"",
    b"MAIL FROM:<evil@example.org>",
    b"\x00",
    b"caf\xc3\xa9",
]
ENDINGS = [b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b""]


def _stream(rng: random.Random, long_lines: bool) -> bytes:
    body = b""
    for _ in range(rng.randint(0, 30)):
        piece = rng.choice(PIECES)
        if long_lines and rng.random() < 0.15:
            piece = b"y" * rng.randint(LINE_LIMIT - 6, LINE_LIMIT * 3)
        body += piece + rng.choice(ENDINGS)
    head = b"EHLO c\r\nMAIL FROM:<a@school.example>\r\nRCPT TO:<p@home.example>\r\nDATA\r\n"
    # Always end the data at last, then a second transaction, then QUIT.
    second = b"MAIL FROM:<a@school.example>\r\nRCPT TO:<q@home.example>\r\nDATA\r\nsecond\r\n.\r\n"
    return head + body + b"\r\n.\r\n" + second + b"QUIT\r\n"


@pytest.mark.parametrize("pair", PAIRS)
async def test_data_is_read_exactly_as_aiosmtpd_reads_it(pair):
    stock, ours, size_limit = PAIRS[pair]
    long_lines = size_limit > 1_000_000
    rng = random.Random(2026 + long_lines)
    differences = []
    seen = b""
    for _ in range(250):
        stream = _stream(rng, long_lines)
        theirs = await _exchange(stock, size_limit, stream)
        mine = await _exchange(ours, size_limit, stream)
        seen += mine[0]
        if theirs != mine:
            differences.append((stream, theirs, mine))
    assert not differences, differences[:2]
    # The streams are worth something: messages end, limits refuse, smuggled commands run.
    assert b"250 2.0.0 Ok" in seen and b"not recognized" in seen
    assert (b"500 Line too long" if long_lines else b"552 Error: Too much mail data") in seen


async def test_a_bare_lf_dot_never_ends_the_message():
    stream = (
        b"EHLO c\r\nMAIL FROM:<a@school.example>\r\nRCPT TO:<p@home.example>\r\nDATA\r\n"
        b"one\n.\nMAIL FROM:<x@evil.example>\r\nRCPT TO:<y@evil.example>\r\nDATA\r\nsmuggled\r\n.\r\n"
        b"QUIT\r\n"
    )
    replies, messages = await _exchange(OurSMTP, 100_000, stream)
    assert len(messages) == 1
    assert b"smuggled" in messages[0] and messages[0].startswith(b"one\n.\nMAIL FROM")


async def test_dot_stuffing_is_undone_and_a_lone_dot_first_is_an_empty_message():
    head = b"EHLO c\r\nMAIL FROM:<a@school.example>\r\nRCPT TO:<p@home.example>\r\nDATA\r\n"
    _, messages = await _exchange(OurSMTP, 100_000, head + b"..one\r\n.two\r\n...\r\n.\r\nQUIT\r\n")
    assert messages == [b".one\r\ntwo\r\n..\r\n"]
    _, messages = await _exchange(OurSMTP, 100_000, head + b".\r\nQUIT\r\n")
    assert messages == [b""]


ADDRESS_ARGS = [
    "<a@b.example>",
    "<a@b.example> SIZE=100 BODY=8BITMIME",
    "a@b.example",
    "a@b.example SIZE=1",
    "<>",
    "",
    "<a b@c>",
    '<"quoted name"@b.example>',
    "<a@b.example",
    "a@",
    "@b.example",
    "<a@[127.0.0.1]>",
    "<a%b@c.example>",
    "<a!b@c.example>",
    "  <a@b.example>",
    "<a@b.example>trailing",
    "<(comment)a@b.example>",
    "<caf\u00e9@b.example>",
    "<" + "l" * 70 + "@b.example>",
]


@pytest.mark.parametrize("limit", [0, 64])
async def test_addresses_parse_as_aiosmtpd_parses_them(limit):
    stock = SMTP(Recorder())
    stock.local_part_limit = limit
    for arg in ADDRESS_ARGS:
        try:
            expected = stock._getaddr(arg)
        except (
            IndexError
        ):  # aiosmtpd's parser fails on a few; the session answers them as malformed
            expected = (None, None)
        assert _parse_address(arg, limit) == expected, arg


def _as_sent(data: bytes) -> bytes:
    """What DATA carries, byte by byte: a bare LF made CRLF, a bare CR kept, a final CRLF."""
    out = bytearray()
    for i, byte in enumerate(data):
        if byte == 0x0A and (i == 0 or data[i - 1] != 0x0D):
            out += b"\r"
        out.append(byte)
    return bytes(out) if out.endswith(b"\r\n") else bytes(out) + b"\r\n"


def test_size_announced_to_the_next_hop_is_what_data_carries():
    from gateway.deliver.next_hop import wire_form, wire_size

    rng = random.Random(3)
    for _ in range(5000):
        data = bytes(rng.choice(b"ab\r\n.") for _ in range(rng.randint(0, 30)))
        assert wire_form(data) == _as_sent(data), data
        assert wire_size(data) == len(_as_sent(data)), data


class _HeloOnly(SMTP):
    async def smtp_EHLO(self, arg):  # noqa: N802 - aiosmtpd's command naming
        await self.push("502 5.5.1 EHLO not implemented here")


async def test_a_next_hop_without_esmtp_still_gets_the_message_after_helo():
    from gateway.config import HostPort
    from gateway.deliver.next_hop import NextHop

    recorder = Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _HeloOnly(recorder, hostname="old"), "127.0.0.1", 0)
    hop = NextHop(
        HostPort("127.0.0.1", server.sockets[0].getsockname()[1]), local_hostname="gateway.test"
    )
    try:
        delivery = await hop.send(
            "t@school.example", ["p@home.example"], b"Subject: hi\r\n\r\nhello\r\n"
        )
    finally:
        await hop.close()
        server.close()
        await server.wait_closed()
    assert delivery.accepted == ("p@home.example",), delivery
    assert recorder.messages == [b"Subject: hi\r\n\r\nhello\r\n"]
