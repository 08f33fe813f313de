"""End to end through the scanner: bytes + envelope -> verdict per copy."""

from datetime import UTC, datetime

from tests.conftest import PARENT, PARTNER, STAFF, STUDENT, categories, mail


def test_clean_mail_passes(scanner):
    r = scanner.scan(mail("Parents' evening is on Thursday; book on Arbor or ring 0121 496 0000."))
    assert r.verdict == "pass" and r.findings == ()


def test_mixed_recipients_hold_only_the_parent_copy(scanner):
    r = scanner.scan(mail("Text me on 07911 123456.", to=(PARENT,), cc=(STAFF, PARTNER)))
    assert r.recipients == {PARENT: "quarantine", STAFF: "pass", PARTNER: "pass"}
    assert {"personal_phone", "unapproved_channel"} <= categories(r)


def test_switchboard_number_in_signature_is_allowed(scanner):
    body = "See you then.\n\nKind regards,\nTess\nSwitchboard: +44 (0)121 496 0000 | Attendance: 0121-496-0001"
    assert scanner.scan(mail(body)).verdict == "pass"


def test_near_miss_of_switchboard_is_personal(scanner):
    r = scanner.scan(mail("Ring me at home on 0121 496 0738 tonight."))
    assert "personal_phone" in categories(r)


def test_trip_mobile_expires(scanner):
    raw = mail("The trip mobile is 07700 900123.")
    before = datetime(2026, 12, 20, 23, 0, tzinfo=UTC)
    after = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)
    assert scanner.scan(raw, at=before).verdict == "pass"
    assert "personal_phone" in categories(scanner.scan(raw, at=after))


def test_parents_own_number_quoted_back_is_not_a_disclosure(scanner):
    body = (
        "I tried you on 07811 640352 earlier but it went to voicemail.\n\nLucy\n\n"
        f"On Tue, 10 Mar 2026 at 19:42, Pat Parent <{PARENT}> wrote:\n> You can reach me on 07811 640352."
    )
    assert scanner.scan(mail(body)).verdict == "pass"


def test_senders_own_earlier_words_in_the_quote_still_count(scanner):
    body = (
        "Repeating my answer so it is on the record.\n\nTess\n\n"
        "On 5 Jan 2026, at 21:12, Tess Teacher <tess.t.87@icloud.com> wrote:\n> Yes of course."
    )
    r = scanner.scan(mail(body))
    assert "personal_email" in categories(r)
    assert any(f.quoted for f in r.findings)


def test_colleagues_forwarded_words_count(scanner):
    body = (
        "Please see below.\n\nRebecca\n\nFrom: Hughes, Daniel <d.hughes@heartofengland.example>\n"
        "Sent: 24 February 2026 12:41\nTo: Okafor, Rebecca <r.okafor@heartofengland.example>\n"
        "Subject: kit\n\nIf you need me, text me on 07834 562190."
    )
    assert "personal_phone" in categories(scanner.scan(mail(body)))


def test_html_only_number_split_by_spans(scanner):
    html = "<p>Give me a ring on 07926 <span>441</span><!-- x -->873 tonight.</p>"
    r = scanner.scan(mail("Give me a ring tonight.", html=html))
    assert r.verdict == "quarantine"
    assert any(f.part == "html" for f in r.findings)


def test_reply_to_personal_address(scanner):
    r = scanner.scan(
        mail(
            "Reply with questions.",
            to=(STUDENT,),
            headers={"Reply-To": "Tess <tess.maths@gmail.com>"},
        )
    )
    assert {"personal_email", "unapproved_channel"} <= categories(r)
    assert any(f.part == "header:Reply-To" for f in r.findings)


def test_vcard_attachment_is_read(scanner):
    card = b"BEGIN:VCARD\r\nFN:Tess Teacher\r\nTEL;TYPE=CELL:+44 7917 480233\r\nEND:VCARD\r\n"
    r = scanner.scan(
        mail("My card is attached.", attachments=[("tess.vcf", "text", "vcard", card)])
    )
    assert any(
        f.part == "attachment:tess.vcf" and f.category == "personal_phone" for f in r.findings
    )


def test_esafety_advice_does_not_fire(scanner):
    body = (
        "E-safety: children should never share their phone number or keep secrets from their parents. "
        "Talk about what they'd do if a stranger sent a friend request on Snapchat or WhatsApp."
    )
    assert scanner.scan(mail(body)).verdict == "pass"


def test_set_text_and_official_platforms_do_not_fire(scanner):
    body = "Re-read Act 2 of the text before Thursday. If you're stuck, message me on Teams."
    assert scanner.scan(mail(body, to=(STUDENT,))).verdict == "pass"


def test_surprise_leaving_card_is_not_secrecy(scanner):
    body = "We're making a surprise leaving card. Please keep it a secret from Mr Hughes until the last day of term."
    assert scanner.scan(mail(body, to=(STUDENT,))).verdict == "pass"


def test_intent_categories(scanner):
    cases = {
        "secrecy": "Just between you and me, ok? Don't tell your mum.",
        "social_contact": "Would you fancy grabbing a coffee on Saturday? My treat.",
        "info_request": "Can you send me your mobile number? It's easier to text you about training.",
        "unapproved_channel": "Drop me a DM on insta if you need anything.",
    }
    for category, body in cases.items():
        assert category in categories(scanner.scan(mail(body, to=(STUDENT,)))), category


def test_staff_only_mail_is_not_scanned(scanner):
    r = scanner.scan(mail("WhatsApp me on 07588 204716.", to=(STAFF,)))
    assert r.verdict == "pass"


def test_unknown_external_address_is_treated_as_a_parent(scanner, config):
    assert config.directory.classify("someone@supplier.example") == "parent"
    assert config.directory.classify(STUDENT) == "student"
    assert config.directory.classify(PARTNER) == "partner"
