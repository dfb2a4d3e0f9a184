"""Model cards: Markdown written by publishers, rendered to HTML that is safe to show anyone.

Markdown lets raw HTML through, so the output is cleaned by nh3 (an allow-list sanitizer):
no <script>/<style>/<iframe>, no event-handler attributes, and links only to http(s)/mailto.
Nothing on a card loads from elsewhere: a Markdown image becomes a link to it (a remote image
would tell its host who reads the card, and when), and raw <img> tags are dropped. No
``class`` either, except a fenced code block's ``language-…``: the store's own classes (a
badge, a button) are not a publisher's to borrow.
"""

import re

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre",
    "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_LANGUAGE = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")


class _ImagesAsLinks(Treeprocessor):
    def run(self, root):
        for image in root.iter("img"):
            source, alt = image.get("src", ""), image.get("alt") or "image"
            image.tag, image.text = "a", f"Image: {alt}"
            image.attrib = {"href": source}


class _NothingLoaded(Extension):
    def extendMarkdown(self, md):  # noqa: N802 - python-markdown's name
        md.treeprocessors.register(_ImagesAsLinks(md), "images_as_links", 0)


EXTENSIONS = ["fenced_code", "tables", "sane_lists", _NothingLoaded()]


def _attribute(tag: str, name: str, value: str) -> str | None:
    if name == "class":  # only on <code>: its language, as fenced code blocks write it
        languages = [word for word in value.split() if _LANGUAGE.fullmatch(word)]
        return languages[0] if languages else None
    return value


def render_markdown(text: str) -> SafeString:
    """Returns sanitized HTML for a Markdown text; safe to insert into a page unescaped."""
    html = markdown_lib.markdown(text or "", extensions=EXTENSIONS, output_format="html")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_attribute,
        # Publishers' links leave the store: tell search engines and the target nothing.
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return mark_safe(cleaned)  # noqa: S308 - cleaned by nh3 just above
