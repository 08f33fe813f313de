"""HTML rendering: what a reader sees, hidden text apart, quotes as quotes, links with their text."""

import re

from gateway.read.html import render_html


def test_hidden_text_is_kept_apart_and_visible_text_joins_inline_runs():
    html = (
        "<p>Call <span>07700</span><!-- x --> 900<b>123</b></p>"
        '<div style="display:none">secret 07911 123456</div><p hidden>also hidden</p><p>after</p>'
    )
    out = render_html(html)
    assert out.visible.splitlines() == ["Call 07700 900123", "", "after"]  # two paragraphs
    assert out.hidden == "secret 07911 123456 also hidden"


def test_quotes_nest_and_unclosed_elements_close_with_their_parent():
    html = (
        '<div>mine</div><blockquote>theirs<div class="gmail_quote">older<p>oldest</blockquote>'
        "<p>mine again</p>"
    )
    out = render_html(html)
    lines = [line for line in out.visible.splitlines() if line.strip("> ")]
    assert lines == ["mine", "> theirs", "> > older", "> > oldest", "mine again"]


def test_scripts_are_not_text_and_links_keep_their_label():
    html = '<script>var n = "07700900123";</script><a href="https://wa.me/447700900123">message <b>me</b></a>'
    out = render_html(html)
    assert out.visible == "message me"
    assert [(link.target, link.label) for link in out.links] == [
        ("https://wa.me/447700900123", "message me")
    ]


def test_lines_and_paragraphs_are_where_a_mail_program_draws_them():
    # Outlook writes a paragraph a line, without margins, and an empty one for a
    # blank line; newlines between the tags are no text. A contact card must not
    # fall apart into paragraphs, nor a letter's paragraphs run together.
    mso = '<p class="MsoNormal">{}</p>'
    outlook = "\n".join(
        [mso.format("Joy Adeyemi, Social Worker"), mso.format("Work mobile: 07700 900390")]
        + [mso.format("&nbsp;"), mso.format("Next")]
    )
    assert render_html(f"<div>\n{outlook}\n</div>").visible.splitlines() == [
        "Joy Adeyemi, Social Worker",
        "Work mobile: 07700 900390",
        "",
        "Next",
    ]
    # A plain <p> has a browser's margins: a blank line either side.
    plain = "<div>\n<p>Dear all,</p>\n<p>The coach leaves at 9.</p>\n<div>Thanks</div>\n<div>Tess</div></div>"
    assert render_html(plain).visible.splitlines() == [
        "Dear all,",
        "",
        "The coach leaves at 9.",
        "",
        "Thanks",
        "Tess",
    ]


def test_markup_nested_past_a_browsers_depth_is_read_flat():
    from gateway.read.html import MAX_DEPTH, _flatten

    deep = "<div>" * 50_000 + "call 07700 900123" + "</div>" * 50_000
    flat = _flatten(deep)
    assert flat.count("<div>") == MAX_DEPTH and flat.count("</div>") == MAX_DEPTH
    assert render_html(deep).visible == "call 07700 900123"
    # Shallow documents are left as they are.
    assert _flatten("<div>" * 600 + "x") == "<div>" * 512 + "x"
    assert _flatten("<p>a</p>" * 1000) == "<p>a</p>" * 1000


_WORDS = ["call", "07700", "900123", "x@y.example", "&amp;", "&nbsp;", "Hi", " ", "\n"]
_TAGS = ["p", "div", "span", "b", "li", "td", "tr", "table", "blockquote", "a", "font", "h2"]
_ATTRS = ["", ' style="display:none"', " hidden", ' class="gmail_quote"']


def _document(draw, depth: int) -> str:
    from hypothesis import strategies as st

    out = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.integers(0, 9))
        if depth > 4 or kind < 4:
            out.append(" ".join(draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4))))
        elif kind == 4:
            out.append(
                draw(st.sampled_from(["<br>", "<br/>", "<hr>", "<!-- c -->", '<img alt="logo">']))
            )
        else:
            tag, attrs = draw(st.sampled_from(_TAGS)), draw(st.sampled_from(_ATTRS))
            if tag == "a":
                attrs += ' href="tel:07700900456"'
            closed = draw(st.booleans()) or draw(st.booleans())
            out.append(
                f"<{tag}{attrs}>{_document(draw, depth + 1)}" + (f"</{tag}>" if closed else "")
            )
    return "".join(out)


def _text_of(html: str) -> str:
    """The characters of a generated document's text, as a reader gets them."""
    import html as stdlib_html
    import re

    text = re.sub(r"<!--.*?-->", "", html)
    text = re.sub(r"<img alt=\"([^\"]*)\">", r"\1", text)
    text = stdlib_html.unescape(re.sub(r"<[^>]*>", "", text))
    return "".join(sorted(re.sub(r"\s", "", text)))


def test_no_text_and_no_link_of_any_document_is_lost():
    # Well-formed or not, whatever the browser's tree does with the markup, every
    # character of text is in the visible or the hidden text, and every link kept.
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.data())
    def check(data):
        html = (
            "<html><body>" + data.draw(st.composite(lambda d: _document(d, 0))()) + "</body></html>"
        )
        out = render_html(html)
        # Quote markers and list bullets are drawn by the renderer, as a reader sees them.
        visible = re.sub(r"(?m)^((?:> ?)*)- ?", r"\1", out.visible)
        seen = "".join(
            sorted((visible + out.hidden).replace(">", "").replace(" ", "").replace("\n", ""))
        )
        assert seen == _text_of(html).replace(">", ""), html
        assert ("tel:07700900456" in {link.target for link in out.links}) == ("<a " in html), html

    check()


def test_a_line_break_on_an_empty_line_draws_a_blank_line():
    # Gmail writes a blank line as <div><br></div>; a signature's lines as <br>.
    gmail = "<div>Hi,</div><div><br></div><div>Thanks.</div><div><br></div><div>Hana<br>(mob)</div>"
    assert render_html(gmail).visible == "Hi,\n\nThanks.\n\nHana\n(mob)"
    assert render_html("one<br><br>two").visible == "one\n\ntwo"
    # a break that ends a block adds no line
    assert render_html("<div>one<br></div><div>two</div>").visible == "one\ntwo"


def test_a_signature_after_a_gmail_blank_line_is_not_the_card_of_the_paragraph_above(scanner):
    from .conftest import PARENT, mail

    html = (
        "<div>Ava helps in the reading club.</div><div><br></div>"
        "<div>Hana<br>(mob +44 (0)7700 900658)</div>"
    )
    raw = mail(
        "Ava helps in the reading club.\n\nHana\n(mob +44 (0)7700 900658)", to=(PARENT,), html=html
    )
    assert "personal_phone" in {f.category for f in scanner.scan(raw).findings}


def test_a_list_item_reads_with_its_bullet_and_a_hidden_one_has_none():
    out = render_html('<ul><li>one</li><li style="display:none">two</li><li>three</li></ul>')
    assert [line for line in out.visible.splitlines() if line] == ["- one", "- three"]
