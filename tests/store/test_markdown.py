"""The model card sanitizer: Markdown in, safe HTML out."""

import pytest

from store.markdown import render_markdown
from tests.support.factories import published_listing


def test_it_removes_script_tags_and_their_content():
    html = render_markdown("Hello\n\n<script>alert('stolen')</script>\n\nBye")
    assert "<script" not in html
    assert "alert" not in html
    assert "Hello" in html and "Bye" in html


def test_it_removes_event_handler_attributes():
    html = render_markdown(
        '<img src="https://example.org/x.png" onerror="alert(1)">\n\n<p onclick="steal()">hi</p>'
    )
    assert "onerror" not in html
    assert "onclick" not in html
    assert "<img" not in html and "example.org" not in html  # nor a raw image


def test_an_image_becomes_a_link_so_nothing_loads_from_elsewhere():
    html = render_markdown("See ![the architecture](https://example.org/arch.png).")
    assert "<img" not in html
    assert (
        '<a href="https://example.org/arch.png" rel="nofollow noopener noreferrer">'
        "Image: the architecture</a>"
    ) in html


def test_class_stays_only_as_a_code_blocks_language():
    html = render_markdown(
        '<div class="verified-badge">Official</div> <span class="button">Buy</span>\n\n'
        '<pre><code class="language-python badge">x = 1</code></pre>'
    )
    assert "verified-badge" not in html and "button" not in html and "badge" not in html
    assert '<code class="language-python">' in html
    assert "Official" in html and "Buy" in html


@pytest.mark.parametrize(
    "link",
    [
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<a href="JaVaScRiPt:alert(1)">click</a>',
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
    ],
)
def test_it_removes_javascript_and_data_links(link):
    html = render_markdown(link)
    assert "javascript" not in html.lower()
    assert "data:" not in html
    assert "click" in html


def test_it_drops_iframes_styles_and_forms():
    html = render_markdown(
        '<iframe src="https://evil.example"></iframe><style>body{}</style><form action="/x"><input></form>'
    )
    assert (
        "<iframe" not in html
        and "<style" not in html
        and "<form" not in html
        and "<input" not in html
    )


def test_it_keeps_normal_markdown():
    html = render_markdown(
        "# Title\n\nSome **bold** and *italic* text with `code`.\n\n"
        "- one\n- two\n\n```python\nprint('hi')\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n[docs](https://example.org/docs)"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html and "<em>italic</em>" in html
    assert "<li>one</li>" in html
    assert '<code class="language-python">' in html
    assert "<td>1</td>" in html
    assert 'href="https://example.org/docs"' in html
    assert 'rel="nofollow noopener noreferrer"' in html


@pytest.mark.django_db
def test_the_listing_page_shows_the_sanitized_card(client):
    listing = published_listing(
        card_markdown="## Usage\n\n<script>alert(1)</script><img src=x onerror=alert(2)>Works **well**."
    )
    body = client.get(listing.get_absolute_url()).content.decode()
    assert "<h2>Usage</h2>" in body
    assert "<strong>well</strong>" in body
    assert "alert(1)" not in body and "onerror" not in body
