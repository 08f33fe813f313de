import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.detect.emails import find_emails
from gateway.detect.links import find_links
from tests.detect.test_phones import seg


def emails(text, link=False):
    return {c.value for c in find_emails(seg(text, link=link))}


@pytest.mark.parametrize(
    "text,address",
    [
        ("anna dot nowak dot 84 at gmail dot com.", "anna.nowak.84@gmail.com"),
        ("instead: d hughes 84 @ hotmail . co . uk - thanks", "dhughes84@hotmail.co.uk"),
        ("send them to p.osei.coaching(at)yahoo.co.uk please", "p.osei.coaching@yahoo.co.uk"),
        ("jsmith1987 [at] gmail [dot] com", "jsmith1987@gmail.com"),
        ("jsmith1987＠gmail．com", "jsmith1987@gmail.com"),
        ("j\u200bsmith@gmail.com", "jsmith@gmail.com"),
    ],
)
def test_munged_and_disguised_addresses(text, address):
    assert address in emails(text)


@pytest.mark.parametrize(
    "text",
    ["cid:image001.png@01DA2B3C.4D5E6F70", "logo@2x.png", "meet at the gate at 3", "a-a-" * 2000],
)
def test_not_addresses(text):
    assert emails(text) == set()


def test_mailto_target():
    assert emails("mailto:me.smith@gmail.com", link=True) == {"me.smith@gmail.com"}


def values(text, link=False, subject=""):
    return {(c.detector, c.value) for c in find_links(seg(text, link=link), subject)}


def test_platform_links():
    v = values("join here https://chat.whatsapp.com/AbCdEf123 or t.me/+Rk8dLm or discord.gg/abc123")
    assert ("channel-link", "whatsapp-group:AbCdEf123") in v
    assert ("channel-link", "telegram-group:+Rk8dLm") in v
    assert ("channel-link", "discord:abc123") in v
    assert ("profile", "tiktok:mr.hughes.pe") in values("follow me at tiktok.com/@mr.hughes.pe")
    assert ("profile", "youtube:simongrantkeys") in values("youtube.com/@simongrantkeys")
    assert ("channel-link", "whatsapp:447911123456") in values("wa[.]me/447911123456")


def test_content_links_are_not_profiles():
    assert values("Homework video: https://www.youtube.com/watch?v=abc") == set()


def test_handles_need_a_platform_word():
    assert ("profile", "instagram:coach_p_osei") in values("DM me on insta @coach_p_osei")
    assert ("profile", "instagram:annanowak.reads") in values(
        "my Instagram, annanowak.reads, if you want"
    )
    assert values("email me at @home_time later") == set()
    assert values("file notes.pdf and e.g. this") == set()


def test_an_at_handle_beside_what_one_does_with_an_account_is_a_profile():
    assert ("profile", "social:jf_backstage") in values(
        "a private one, @jf_backstage, request that"
    )
    assert ("profile", "social:jo_b") in values("follow @jo_b for updates")
    assert values("see @jo_b at lunch") == set()
    # A handle may start with an initial; one the sender introduces may sit a sentence
    # after its platform; initials alone are no handle.
    assert ("profile", "snapchat:r.okafor.x") in values(
        "Send me a Snapchat instead, I'm r.okafor.x"
    )
    assert ("profile", "telegram:lucy_c_maths") in values(
        "Shall we carry on over on Telegram instead? Search for me, I'm lucy_c_maths."
    )
    assert values("on Snapchat, J. and I.e. e.g. are fine") == set()
    # A time or a measure before the platform's name is no handle.
    assert values("streamed live from 6.30pm on our YouTube channel") == set()
    assert values("the 2.5kg box from Instagram's shop") == set()
    assert ("profile", "instagram:jo_b") in values("see @jo_b at lunch", subject="Re: Instagram")


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                " ",
                "  ",
                "\n",
                "\t",
                "\u00a0",
                "at",
                "AT",
                "@",
                "(at)",
                "[AT]",
                "{at}",
                "<at>",
                "x",
                "gmail",
                ".",
                "dot",
                "a",
                "t",
                "cat",
                "(",
                "<",
            ]
        ),
        max_size=16,
    )
)
def test_at_tokens_found_from_anchors_are_exactly_the_pattern_matches(pieces):
    from gateway.detect.emails import _AT_TOKEN, _at_tokens

    text = "".join(pieces)
    assert [m.span() for m in _at_tokens(text)] == [m.span() for m in _AT_TOKEN.finditer(text)]


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "a",
                "z",
                "9",
                "_",
                ".",
                "-",
                "@",
                "/",
                " ",
                "\n",
                "A",
                "é",
                "x.y",
                "ab",
                "12",
                ".com",
                ".pdf",
                "jo",
                "smith",
                "__",
            ]
        ),
        max_size=16,
    )
)
def test_bare_handles_tried_from_separators_are_exactly_the_pattern_matches(pieces):
    from gateway.detect.links import _BARE_HANDLE, _bare_handles

    text = "".join(pieces)
    assert [m.span() for m in _bare_handles(text)] == [
        m.span() for m in _BARE_HANDLE.finditer(text)
    ]


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "wa.me/447700900123",
                "https://",
                "www.",
                "instagram",
                "[.]",
                ".com",
                ".me",
                "/",
                "jo.b",
                "tiktok.com/@x",
                "blog.wordpress.com",
                " ",
                "\n",
                "\u00a0",
                "\u2028",
                "@",
                "-",
                ".",
                "a",
                "é",
                ")",
                '"',
            ]
        ),
        max_size=14,
    )
)
def test_links_tried_in_the_words_that_can_hold_them_are_exactly_the_pattern_matches(pieces):
    from gateway.detect.links import _LINK, _links

    text = "".join(pieces)
    assert [m.span() for m in _links(text)] == [m.span() for m in _LINK.finditer(text)]


def test_every_platform_of_the_registry_is_recognised_by_its_links():
    from gateway.detect.links import _canonical_link
    from gateway.detect.platforms import registry

    hosts = {h for p in registry() for h in p.hosts}
    assert {"wa.me", "strava.com", "soundcloud.com", "reddit.com"} <= hosts
    profiles = {c.value for c in find_links(seg("My tracks: soundcloud.com/jo-makes-music, enjoy"))}
    assert profiles == {"soundcloud:jo-makes-music"}
    # A community or a page of the site is content, not a person.
    assert _canonical_link("reddit.com", "/r/gcse") is None
    assert _canonical_link("soundcloud.com", "/discover") is None
    assert _canonical_link("reddit.com", "/u/jo_b") == ("profile", "reddit", "jo_b")


def test_an_approved_platform_named_with_an_ordinary_word_is_a_mention_only_in_its_place():
    from gateway.detect.platforms import mentions

    words = mentions(["Teams", "ParentPay", "school email"])
    assert {"on teams", "teams call", "parentpay", "school email"} <= set(words)
    assert "teams" not in words  # "the other teams said" names no platform
