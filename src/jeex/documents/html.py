"""Model output as HTML a browser can show safely (SECURITY.md P11).

Markdown is rendered with raw HTML disabled (markdown-it's ``js-default`` preset),
then cleaned by nh3 with an allow-list: no script, no event handlers, no
``javascript:`` or ``data:`` URLs. Images are dropped entirely: a remote image in
generated text would be an exfiltration channel (P12).
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("js-default").enable("table")

ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}}


def clean_html(html: str) -> str:
    """The allow-listed subset of ``html``; applying it twice changes nothing."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def markdown_to_html(markdown: str) -> str:
    return clean_html(_markdown.render(markdown))


@lru_cache(maxsize=2048)
def cached_markdown_to_html(markdown: str) -> str:
    """``markdown_to_html`` kept per text: a finished section is asked for on every poll of
    every page that shows it (preview, progress), and rendering is the costliest part."""
    return markdown_to_html(markdown)
