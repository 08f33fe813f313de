"""Whose detail is it: only the sender's own details are disclosures.

Each owner rule of gateway/judge/owners.py with a case it clears and a twin
it must still hold, so a cue that grew too broad fails here.
"""

from __future__ import annotations

import shutil
from email.message import EmailMessage

import pytest

from gateway.config import load_config
from gateway.judge.scan import Scanner

from .conftest import PARENT, ROOT, STAFF, STUDENT, categories, example_config, mail


def details_found(scanner: Scanner, raw: bytes):
    r = scanner.scan(raw)
    return r, [f for f in r.findings if f.category in {"personal_phone", "personal_email"}]


@pytest.mark.parametrize(
    ("clears", "holds"),
    [
        # the recipient's own, repeated back from the school's records
        (
            "I'll ring you on 07700 900222, the mobile number we have for you on Arbor.",
            "You can ring me on 07700 900222 if anything changes.",
        ),
        # someone named with a title and where they are from
        (
            "Mr Khan from Khan's Driving School will be at the fair; book lessons on 07700 900555.",
            "I will be at the fair myself; book lessons on 07700 900555.",
        ),
        (
            "Thanks, I've noted your new number 07700 900222 on Arbor.",
            "Thanks, you can note my new number 07700 900222 for the trip.",
        ),
        (
            "Main contact: Dana Price (mother) - 07700 900231\nPlease tell us if this changes.",
            "Trip contact: 07700 900231\nPlease tell us if this changes.",
        ),
        # a third party in a role, on the detail's line or the card above it
        (
            "Joy Adeyemi, Social Worker, Solihull Council\nWork mobile: 07700 900390",
            "Joy Adeyemi\nWork mobile: 07700 900390",
        ),
        (
            "The club secretary is on 07700 900208 for any questions about fixtures.",
            "I am on 07700 900208 for any questions about fixtures.",
        ),
        (
            "Her number is 07700 900415 if you want to book with the physiotherapist directly.",
            "The number is 07700 900415 if you want to book with me directly.",
        ),
        # an organisation's address, a free-mail one
        (
            "Uniform orders go to orders@stitchandcrest.example as before.",
            "Uniform orders go to stitchandcrest@gmail.com as before.",
        ),
        (
            "Send your CV to lisa.grant@brindleyengineering.example by Friday.",
            "Send your CV to lisa.grant@hotmail.co.uk by Friday.",
        ),
        # someone else addressed just before it, though the sender is named after it
        (
            "If you're late, email her at priya.m@gmail.com and copy me in.",
            "If you're late, email me at priya.m@gmail.com and copy her in.",
        ),
        # another person's, by name
        (
            "Ring the practice, or Kev's work mobile, 07700 900481, if you're lost.",
            "Ring the practice, or my work mobile, 07700 900481, if you're lost.",
        ),
        # quoted as an example of what a scam says
        (
            'The fake email says "text 07700 900000 with your password" - it is not from us.',
            "Text 07700 900000 with your password - it is from us.",
        ),
        # a scammer's, in a warning, quoted or not; a first person inside the quotation is theirs
        (
            "Some families have had texts claiming to be from school asking them to reply to 07700 900666.",
            "If you have had a text from school, please reply to 07700 900666.",
        ),
        (
            'Here is one of the fake messages: "Text me your login on 07700 900999 and keep this quiet."',
            "Here is my message: text me your login on 07700 900999 and keep this quiet.",
        ),
        # a role as a possessive, and the roles of clubs and volunteers
        (
            "The author's agent is on 07700 900345 if the class wants to book a visit.",
            "I'm on 07700 900345 if the class wants to book a visit.",
        ),
        (
            "The Scouts leader, Tom, is on 07700 900778 if Sam wants to join the troop.",
            "I'm on 07700 900778 if Sam wants to join the troop.",
        ),
        (
            "Mrs Khan (Year 7 parent rep) is coordinating lifts: k.khan.family@gmail.com",
            "I am coordinating lifts: k.khan.family@gmail.com",
        ),
        # services' lines, named before the number
        (
            "Young people can text the school nursing team on 07700 900040 - it's confidential.",
            "Young people can text me on 07700 900040 - it's confidential.",
        ),
        (
            "Solihull Young Carers: 0121 496 0650 or text 07700 900060 (service line).",
            "My numbers: 0121 496 0650 or text 07700 900060.",
        ),
        # the family's own, on a profile
        (
            "Family contact: Wei Baker - 07700 900863\nSchool contact: the SENCo.",
            "Tutor contact: 07700 900863\nSchool contact: the SENCo.",
        ),
        # the number the school's records hold, or tried: the recipient's
        (
            "We tried to ring you this morning on 07700 900377 (the number on Arbor).",
            "Ring me this morning on 07700 900377 (my mobile).",
        ),
        # a records system named near a number is not whose it is
        (
            "We tried calling you on 07700 900655 earlier; absences can be logged on Arbor.",
            "You can text absences to 07700 900655 instead; she'll log them on Arbor.",
        ),
    ],
)
def test_a_detail_with_another_owner_clears_and_its_twin_holds(scanner, clears, holds):
    r, found = details_found(scanner, mail(f"Dear Ms Price,\n\n{clears}\n\nKind regards,\nTess"))
    assert r.verdict == "pass", r.findings
    r, found = details_found(scanner, mail(f"Dear Ms Price,\n\n{holds}\n\nKind regards,\nTess"))
    assert r.verdict == "quarantine" and found, r.findings
    assert found[0].owner == "sender" and found[0].owner_why


def test_the_details_own_line_says_whose_it_is_before_a_colleague_on_the_card_above(scanner):
    card = "Present: Mrs Bell (SENCo), Miss Rahman (TA)\nContact: "
    r, found = details_found(scanner, mail(f"Notes\n\n{card}Dad's mobile 07700 900614 (on file)"))
    assert r.verdict == "pass", r.findings
    r, found = details_found(scanner, mail(f"Notes\n\n{card}07700 900614"))
    assert r.verdict == "quarantine" and found[0].owner == "colleague", r.findings


def test_the_sender_claiming_a_number_beats_a_third_party_nearby(scanner):
    r, found = details_found(
        scanner, mail("If the club secretary doesn't answer, text me on 07700 900208 instead.")
    )
    assert r.verdict == "quarantine"
    assert found[0].owner == "sender" and "first person" in found[0].owner_why


def test_a_number_given_to_someone_else_once_is_theirs_where_it_is_repeated(scanner):
    body = (
        "Dear Ms Price,\n\nJoy Adeyemi, Social Worker, Solihull Council\nWork mobile: 07700 900390\n\n"
        "If you can't reach the office, 07700 900390 is the quickest way.\n"
    )
    assert scanner.scan(mail(body)).verdict == "pass"


def test_an_address_at_an_organisation_that_names_the_sender_is_theirs(scanner):
    r, found = details_found(scanner, mail("Contact: tess.teacher@tessteaches.example"))
    assert r.verdict == "quarantine" and found[0].value == "tess.teacher@tessteaches.example"


def test_the_senders_signature_is_their_own_card(scanner):
    body = (
        "Thanks for the update.\n\nKind regards,\nTess Teacher\nHead of Year 8\nMob: 07700 900111\n"
    )
    r, found = details_found(scanner, mail(body))
    assert r.verdict == "quarantine" and found[0].owner_why == "in the sender's signature"


def test_a_spreadsheet_of_the_familys_details_is_theirs(scanner):
    sheet = (
        b"name,relationship,mobile\nDana Price,mother,07700 900614\nLee Price,father,07700 900615\n"
    )
    raw = mail(
        "Please check the attached sheet and tell us of any changes.",
        attachments=[("Data check.csv", "text", "csv", sheet)],
    )
    assert scanner.scan(raw).verdict == "pass"
    # The same numbers written by the sender as a bare list are the strict default's.
    body = "Numbers:\n07700 900614\n07700 900615\n"
    assert scanner.scan(mail(body)).verdict == "quarantine"


def forwarded(author: str, inner_body: str) -> bytes:
    inner = EmailMessage()
    inner["From"] = author
    inner["To"] = STAFF
    inner["Subject"] = "Junior section open sessions"
    inner.set_content(inner_body)
    outer = EmailMessage()
    outer["From"] = f"Tess Teacher <{STAFF}>"
    outer["To"] = PARENT
    outer["Subject"] = "FW: Junior section open sessions"
    outer.set_content("Please see the club's message attached.")
    outer.add_attachment(inner)
    return bytes(outer)


def test_a_forwarded_message_is_its_authors_words(scanner):
    club = forwarded(
        "Arden Vale Netball Club <avnc.sec@gmail.com>",
        "Parents can register with me.\n\nLorna Keane\n07700 900208 | avnc.sec@gmail.com\n",
    )
    assert scanner.scan(club).verdict == "pass"
    # The sender's own earlier message, forwarded, is still the sender's.
    own = forwarded(f"Tess Teacher <{STAFF}>", "Text me on 07700 900208 about Saturday.\n")
    r = scanner.scan(own)
    assert r.verdict == "quarantine" and "personal_phone" in categories(r)


def test_the_owner_cues_are_the_schools_to_tune(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    body = mail("Dear Ms Price,\n\nThe farrier is on 07700 900777 for bookings.\n")
    assert Scanner(load_config(example_config(tmp_path))).scan(body).verdict == "quarantine"
    owners = rules / "00-owners.toml"
    owners.write_text(
        owners.read_text().replace('  "company", ', '  "farrier", "company", ', 1), encoding="utf-8"
    )
    tuned = Scanner(load_config(example_config(tmp_path, rules=rules)))
    assert tuned.scan(body).verdict == "pass"


def test_a_colleagues_details_are_staff_details_not_a_third_partys(scanner):
    # "her" alone would make it someone else's; the Head of Year named is a colleague.
    body = (
        "Dear Parent/Carer,\n\nMrs Okafor is keen to get to know Year 10 families and invites parents "
        "to send her a friend request on Facebook: facebook.com/rebecca.okafor.77.\n"
    )
    r = scanner.scan(mail(body, sender="School Office <office@heartofengland.example>"))
    found = [f for f in r.findings if f.category == "social_profile"]
    assert r.verdict == "quarantine" and found and found[0].owner == "colleague"


def test_a_generic_display_name_does_not_make_an_address_the_senders(scanner):
    body = "The school nursing team can be reached at schoolnurses@solihull.nhs.example.\n"
    raw = mail(body, sender="School Office <office@heartofengland.example>")
    assert scanner.scan(raw).verdict == "pass"


def test_a_role_in_the_senders_own_signature_is_still_the_senders(scanner):
    body = "Dear Ms Price,\n\nThe trip leaves at 9.\n\nKind regards,\nTess Teacher\nTrip Leader | Mobile: 07700 900999\n"
    r, found = details_found(scanner, mail(body))
    assert r.verdict == "quarantine" and found and found[0].owner == "sender", r.findings


def test_a_profile_given_as_a_roles_possessive_is_theirs(scanner):
    own = scanner.scan(
        mail("My Instagram is @joanne.writes if the class wants to send me questions.")
    )
    assert "social_profile" in {f.category for f in own.findings}
    theirs = "The author's Instagram is @joanne.writes if the class wants to send her questions."
    assert scanner.scan(mail(theirs)).verdict == "pass"


def test_a_possessive_must_name_the_detail_itself(scanner):
    # "Alfie's medical form" is the form's subject, not the address's owner.
    r, found = details_found(
        scanner, mail("Can you send Alfie's medical form to dan.hughes.pt@gmail.com please.")
    )
    assert r.verdict == "quarantine" and found[0].owner == "sender"


def test_a_forward_from_the_senders_own_address_under_another_form_of_her_name_counts(scanner):
    body = (
        "Forwarding this so you have it.\n\nRebecca\n\n---------- Forwarded message ---------\n"
        "From: Becky Okafor <becky.okafor1@hotmail.co.uk>\nDate: Mon, 2 Mar 2026 at 19:02\n"
        "Subject: trip\nTo: Rebecca Okafor <r.okafor@heartofengland.example>\n\n"
        "Text me on 07700 900484 if the coach is late."
    )
    sender = "Rebecca Okafor <r.okafor@heartofengland.example>"
    assert "personal_phone" in categories(scanner.scan(mail(body, sender=sender)))
    # Someone else of the same surname is someone else.
    other = body.replace("Becky Okafor", "Grace Okafor")
    assert "personal_phone" not in categories(scanner.scan(mail(other, sender=sender)))


def test_the_sender_named_with_where_they_are_from_is_still_the_sender(scanner):
    raw = mail(
        "Dear Ms Price,\n\nMr Teacher from the PE department is on 07700 900555 at weekends.\n\nTess",
        sender="Tess Teacher <t.teacher@heartofengland.example>",
    )
    r, found = details_found(scanner, raw)
    assert r.verdict == "quarantine" and found and found[0].owner == "sender", r.findings


def test_a_role_mailbox_at_an_organisation_is_theirs_whoever_is_named_near_it(scanner):
    body = (
        "Please apply yourselves, with Mrs Okafor's careers form signed: Midlands Analytical, "
        "Contact: Dr Ruth Adeyemi, placements@midlandsanalytical.example"
    )
    r = scanner.scan(mail(f"Hi,\n\n{body}\n\nMr Teacher", to=(STUDENT,)))
    assert r.verdict == "pass", [(f.rule, f.evidence) for f in r.findings]
