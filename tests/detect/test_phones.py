import pytest

from gateway.detect.phones import canonical, find_phones
from gateway.read.message import Owner, Segment, Zone, ZoneSpan
from gateway.read.normalize import normalize


def seg(text: str, link: bool = False, zone: Zone = Zone.NEW) -> Segment:
    n = normalize(text)
    return Segment("body", n, (ZoneSpan(0, len(n.text), zone, Owner.SCHOOL),), link)


def personal(text: str, **kw) -> set[str]:
    return {c.value for c in find_phones(seg(text, **kw)) if c.personal}


@pytest.mark.parametrize(
    "text",
    [
        "ring me on +44 (0)7911 123456",
        "+44 07911 123456",
        "0044 7911 123456",
        "0 7 9 1 1 1 2 3 4 5 6",
        "07911_123_456",
        "07911•123•456",
        "07911\u2009123\u2009456",
        "07911\u200c123\u200d456",
        "０７９１１ １２３４５６",
        "⓪⑦⑨①① ①②③④⑤⑥",
        "call me on O7911 l23456",
        "my mob is07911123456",
        "07911\n123456",
        "oh seven nine one one, one two three four five six",
        "zero seven nine double one, one two three, four five six",
    ],
)
def test_disguised_mobiles_are_found(text):
    assert personal(text) == {"+447911123456"}


def test_letters_for_digits_in_a_group_of_short_tokens():
    assert personal("m. 07700 9OO 482") == {"+447700900482"}
    assert personal("077OO 9OO 319") == {"+447700900319"}
    assert personal("Room 12 11 10 O9, year 10 lo 12") == set()


@pytest.mark.parametrize(
    "text",
    ["Any questions just text - 07700 nine-double-oh 344.", "ring 07700 900 three four four"],
)
def test_a_number_half_in_digits_half_in_words(text):
    assert personal(text) == {"+447700900344"}


def test_digits_beside_number_words_are_no_number():
    assert personal("Year 10, one of 3 groups, room 12, two at a time") == set()


def test_hundreds_and_thousands_in_a_spelled_number():
    assert personal("oh seven seven double oh nine hundred nine nine nine") == {"+447700900999"}
    # the 0 that goes without saying
    assert personal("bell me, it's seven seven double oh nine hundred four four one") == {
        "+447700900441"
    }


def test_drama_range_mobile_is_a_mobile():
    assert personal("07700 900418 is my personal mobile") == {"+447700900418"}


@pytest.mark.parametrize(
    "text",
    [
        "Your child's ULN is 4123456789",
        "Candidate number 4021, centre number 12345",
        "Trip dates: 12.03.2025 – 15.03.2025",
        "Term runs 2024-09-04 to 2024-12-20",
        "Room 1204, 15:30-16:30",
        "Sort code 20-00-00, account 12345678",
        "ISBN 978-0-14-143951-8",
        "Ref 110bcd25-a55d-453a-8046-1297901ea002",
        "The 1979-2011 cohort, 100 pupils",
        "ParentPay receipt number: 0779 1123 4456",
        "UCAS Personal ID: 184-692-0571",
        "UPN: K830291746512",
        "Total £1,234.50 by 30/11/2026",
        "Serial number: 0471235",
        "postcode B91 3QJ",
        "Childline is free on 0800 1111",
    ],
)
def test_things_that_are_never_phones(text):
    assert personal(text) == set()


def test_landline_needs_personal_context():
    assert personal("ring me at home this evening on 024 7699 0417") == {"+442476990417"}
    assert personal("Practice telephone: 0121 705 3380") == set()
    assert personal("the museum's bookings desk (020 7946 0321)") == set()


def test_landline_labelled_mobile_in_signature_is_personal():
    assert personal("Home: 0121 496 0738", zone=Zone.SIGNATURE) == {"+441214960738"}


def test_link_targets_are_read():
    assert personal("tel:+447911123456", link=True) == {"+447911123456"}
    assert personal("https://wa.me/447834562190", link=True) == {"+447834562190"}


def test_every_spelling_of_the_switchboard_has_one_canonical_form():
    forms = [
        "0121 496 0000",
        "01214960000",
        "+44 121 496 0000",
        "+44 (0)121 496 0000",
        "0044 121 496 0000",
        "(0121) 496-0000",
    ]
    assert {canonical(f) for f in forms} == {"+441214960000"}
    assert canonical("0121 496 0738") != canonical("0121 496 0000")


def test_seventy_thousand_digit_groups_do_not_hide_a_number():
    text = " ".join(str(i % 100) for i in range(70_000)) + "\n\ncall me on 07911 123456"
    assert "+447911123456" in personal(text)


LETTER = "\n".join(
    f"Line {'abcdefghij'[k % 10]} of an ordinary letter about the trip and the homework."
    for k in range(200)
)


@pytest.mark.parametrize(
    "inserted, expected",
    [
        ("my mobile is 07911\n123456", {"+447911123456"}),  # across one line break
        ("my mobile is 07911 123456", {"+447911123456"}),
        (
            "the trip costs £\n07911 123456 pence",
            set(),
        ),  # "£" at the end of the line above still masks it
        ("my mobile is\n\n07911 123456", {"+447911123456"}),
        ("the number is 07911\n\n123456", set()),  # two line breaks split a number
    ],
)
def test_numbers_among_many_lines_are_judged_as_in_a_short_text(inserted, expected):
    for at in (0, 57, 199):
        lines = LETTER.split("\n")
        lines[at:at] = inserted.split("\n")
        text = "\n".join(lines)
        assert personal(text) == expected == personal(inserted), (at, inserted)


@pytest.mark.parametrize("separator", [" ", ", ", "\u2028", "-", "\u00a0", " ; "])
def test_spelled_numbers_are_found_whatever_separates_the_words(separator):
    words = ["oh", "seven", "nine", "one", "one", "one", "two", "three", "four", "five", "six"]
    text = f"{LETTER}\ntext me on {separator.join(words)}\n{LETTER}"
    assert personal(text) == {"+447911123456"}
