"""The sanitiser (P11): no active content survives, and cleaning twice changes nothing."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from jeex.exports.markdown import (
    ALLOWED_TAGS,
    clean_html,
    limit_tables,
    list_items,
    parse,
    plain_paragraphs,
    sections,
    to_html,
    xml_safe,
)

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox(1))",
    "![x](http://127.0.0.1:1/?q=SECRET)",
    "<svg onload=alert(1)>",
    "<iframe src=//evil>",
    "<style>*{background:url(//evil)}</style>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    "[x](&#106;avascript:alert(1))",
    "<details open ontoggle=alert(1)>",
]
HTML_PIECES = st.sampled_from(
    ["<script>", "</script>", "<img src=", "onerror=", "<a href=", "javascript:", "\"", "'",
     ">", "<", "<style>", "<b>", "</b>", "&#106;", "data:", "<svg", "<table><tr><td>", "x",
     " ", "\n", "[l](", ")", "![i](", "|", "---", "```"]
)  # fmt: skip


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += attrs


def assert_inert(html: str) -> None:
    collected = _Collect()
    collected.feed(html)
    assert collected.tags <= ALLOWED_TAGS
    assert not collected.tags & {"script", "style", "img", "iframe", "svg", "math", "object"}
    for name, value in collected.attrs:
        assert not name.startswith("on"), name
        if name in {"href", "src"}:
            # Relative links stay (README links); no scheme but these three survives.
            assert urlsplit(value or "").scheme in {"", "http", "https", "mailto"}, value


def test_xss_corpus_is_inert() -> None:
    for payload in XSS:
        html = to_html(f"# t\n\n{payload}\n\n| a |\n|---|\n| {payload} |\n")
        assert_inert(html)
        assert "<img" not in html


@settings(max_examples=200, deadline=None)
@given(st.lists(HTML_PIECES, max_size=40).map("".join))
def test_generated_input_is_inert_and_cleaning_is_idempotent(text: str) -> None:
    html = to_html(text)
    assert_inert(html)
    assert clean_html(html) == html
    raw_clean = clean_html(text)
    assert_inert(raw_clean)
    assert clean_html(raw_clean) == raw_clean


def test_xml_illegal_characters_are_dropped() -> None:
    assert xml_safe("a\x00b\x0bc\ufffed\te\n") == "abcd\te\n"


def test_sections_and_list_items() -> None:
    tokens = parse("# T\n\n## Tasks\n\n1. [ ] One\n2. Two\n   - nested\n\n## Other\n\ntext\n")
    found = sections(tokens)
    assert set(found) == {"tasks", "other"}
    assert list_items(found["tasks"]) == ["One", "Two"]
    assert plain_paragraphs(found["other"]) == ["text"]


def test_big_tables_are_cut_with_a_note() -> None:
    table = "| " + " | ".join(f"h{c}" for c in range(6)) + " |\n" + "|---" * 6 + "|\n"
    table += "".join("| " + " | ".join(f"r{r}c{c}" for c in range(6)) + " |\n" for r in range(9))
    tokens = limit_tables(parse(table + "\nafter\n"), max_rows=4, max_columns=3)
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 5  # header + 4
    cells = [t.content for t in tokens if t.type == "inline"]
    assert cells[:3] == ["h0", "h1", "h2"]
    assert "r3c2" in cells
    assert "r4c0" not in cells
    assert "r0c3" not in cells
    assert cells[-2:] == [
        "(Table shortened here: the first 4 of 9 rows and 3 of 6 columns; "
        "the ZIP export has it whole.)",
        "after",
    ]
    small = parse("| a |\n|---|\n| 1 |\n")
    assert limit_tables(small) == small


def test_html_and_the_token_stream_agree_on_cut_tables() -> None:
    table = "| a |\n|---|\n" + "".join(f"| {r} |\n" for r in range(400))
    html = to_html(table)
    assert html.count("<tr>") == 301
    assert "the first 300 of 400 rows" in html
