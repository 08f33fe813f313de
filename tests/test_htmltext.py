"""HTML rendering: what a reader sees, hidden text apart, quotes as quotes, links with their text."""

from gateway.read.html import render_html


def test_hidden_text_is_kept_apart_and_visible_text_joins_inline_runs():
    html = (
        "<p>Call <span>07700</span><!-- x --> 900<b>123</b></p>"
        '<div style="display:none">secret 07911 123456</div><p hidden>also hidden</p><p>after</p>'
    )
    out = render_html(html)
    assert out.visible.splitlines() == ["Call 07700 900123", "after"]
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
