"""The benchmarks' day of mail (bench/mix.py): real shapes, all clean, the same every time."""

from __future__ import annotations

import email
import email.policy

import pytest

from bench.mix import SHAPES, day_of_mail, proportions
from gateway.mail import Verdict

from .conftest import PARENT


@pytest.fixture(scope="module")
def day():
    return day_of_mail(100, seed=7)


def test_every_shape_is_in_a_hundred_messages_in_its_proportion(day):
    counts = {s.name: sum(m.shape == s.name for m in day) for s in SHAPES}
    assert counts == {s.name: round(s.share * 100) for s in SHAPES}
    assert "plain letter 30%" in proportions(day)


def test_every_message_parses_without_defects_and_is_addressed_to_the_parent(day):
    for m in day:
        parsed = email.message_from_bytes(m.raw, policy=email.policy.default)
        assert parsed["To"] == PARENT
        assert not [d for part in parsed.walk() for d in part.defects], m.shape
        assert parsed.get_body(("plain",)) is not None, m.shape


def test_the_shapes_carry_what_their_mail_programs_write(day):
    first = {}
    for m in day:
        first.setdefault(m.shape, email.message_from_bytes(m.raw, policy=email.policy.default))
    types = {name: [p.get_content_type() for p in msg.walk()] for name, msg in first.items()}
    assert types["Outlook HTML"][:2] == ["multipart/related", "multipart/alternative"]
    assert "image/png" in types["Outlook HTML"]
    assert "MsoNormal" in first["Outlook HTML"].get_body(("html",)).get_content()
    assert '<div dir="ltr">' in first["Gmail HTML"].get_body(("html",)).get_content()
    assert "application/pdf" in types["PDF attached"]
    assert any("wordprocessingml" in t for t in types["DOCX attached"])
    assert types["photos 1 MB"].count("image/jpeg") == 2
    replies = [m.raw.decode() for m in day if m.shape == "reply thread"]
    assert any("gmail_quote" in r and "wrote:" in r for r in replies)
    assert any("<b>Sent:</b>" in r and "\r\nSent: " in r for r in replies)


def test_every_message_passes_the_scanner_with_its_attachments_read(scanner, day):
    for m in day:
        result = scanner.scan(m.raw)
        assert result.verdict == Verdict.PASS, (m.shape, [f.rule for f in result.findings])
        assert not result.unread, (m.shape, result.unread)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(day):
    assert [m.raw for m in day_of_mail(100, seed=7)] == [m.raw for m in day]
    assert [m.raw for m in day_of_mail(100, seed=8)] != [m.raw for m in day]
