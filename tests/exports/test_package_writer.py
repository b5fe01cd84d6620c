"""The package writer: tree and ZIP agree, front matter round-trips, hostile slugs stay inside."""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jeex.exports.package import (
    ENTRY_PATTERN,
    PackageDocument,
    PackageProject,
    front_matter,
    package_path,
    render_document,
    render_readme,
    write_package,
)

WHEN = datetime(2026, 1, 15, 9, 30, 12, tzinfo=UTC)
HOSTILE = ["../../x", "/etc", "C:\\x", "Ünïcödé ☃", "", "a" * 300, "..", "con", "a/../../b"]


def make_doc(
    document_type: str, number: int = 0, slug: str = "", title: str | None = None
) -> PackageDocument:
    heading = title or document_type.replace("_", " ").title()
    return PackageDocument(
        document_type=document_type,
        epic_number=number,
        epic_slug=slug,
        title=heading,
        version=2,
        content=f"# {heading}\n\n| a | b |\n| - | - |\n\n- one two three\n\n\n",
        generated_at=WHEN,
        model="smollm2",
        confidence=0.8 if number % 2 else None,
    )


def make_project(slug: str = "shopping-list", name: str = "Shopping: List") -> PackageProject:
    return PackageProject(
        name=name,
        slug=slug,
        language="en",
        idea="Share lists.\nWith family.",
        audience="Families",
        project_id="p-1",
        generated_at=WHEN,
        model="smollm2",
        template_versions={"specs": "v2", "about": "abc123"},
        jeex_version="0.1.0",
    )


def full_set(epics: int = 3) -> list[PackageDocument]:
    docs = [make_doc(t) for t in ("about", "specs", "architecture", "plan_overview")]
    docs += [make_doc("plan_epic", n, f"epic {n}") for n in range(1, epics + 1)]
    return docs


def split_front_matter(text: str) -> tuple[dict[str, object], str]:
    assert text.startswith("---\n")
    head, _, body = text[4:].partition("\n---\n")
    loaded = yaml.safe_load(head)
    assert isinstance(loaded, dict)
    return loaded, body


def tree_contents(root: Path) -> dict[str, bytes]:
    base = root.parent
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_tree_and_zip_match_the_layout(tmp_path: Path) -> None:
    docs = list(reversed(full_set()))
    result = write_package(tmp_path / "plan", make_project(), docs)

    expected = [
        "shopping-list/README.md",
        "shopping-list/docs/about.md",
        "shopping-list/docs/specs.md",
        "shopping-list/docs/architecture.md",
        "shopping-list/docs/plans/overview.md",
        "shopping-list/docs/plans/01-epic-1.md",
        "shopping-list/docs/plans/02-epic-2.md",
        "shopping-list/docs/plans/03-epic-3.md",
    ]
    out = (tmp_path / "plan").resolve()
    assert result.root == out / "shopping-list"
    assert result.zip_path == out / "shopping-list.zip"
    assert result.files == [out / name for name in expected]
    with zipfile.ZipFile(result.zip_path) as archive:
        assert archive.namelist() == expected
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in archive.infolist())
        zipped = {name: archive.read(name) for name in expected}
    assert zipped == tree_contents(result.root)
    assert sorted(os.listdir(out)) == ["shopping-list", "shopping-list.zip"]


def test_documents_carry_front_matter(tmp_path: Path) -> None:
    result = write_package(tmp_path, make_project(), full_set(1))
    for path in result.files:
        meta, body = split_front_matter(path.read_text("utf-8"))
        assert meta["project"] == "Shopping: List"
        assert meta["generated_at"] == "2026-01-15T09:30:12Z"
        assert body.endswith("\n")
        assert not body.endswith("\n\n")
    readme_meta, _ = split_front_matter(result.files[0].read_text("utf-8"))
    assert readme_meta["document_type"] == "readme"
    epic_meta, _ = split_front_matter(result.files[-1].read_text("utf-8"))
    assert epic_meta["epic_number"] == 1
    assert epic_meta["document_type"] == "plan_epic"
    about_meta, _ = split_front_matter(result.files[1].read_text("utf-8"))
    assert "epic_number" not in about_meta


@pytest.mark.parametrize(
    "title",
    [
        "Epic: one",
        "'quoted' \"both\"",
        "Ünïcödé — ☃",
        "two\nlines",
        "---",
        "x\n---\ny",
        "- item",
        "2026-01-01",
        "next\x85line",
        "sep\u2028---\u2029arator",
        "cr\r\nlf",
        "nul\x00",
        "",
        "null",
    ],
)
def test_front_matter_round_trips(title: str) -> None:
    meta = {"title": title, "version": 3, "generated_at": "2026-01-15T09:30:12Z"}
    text = front_matter(meta)
    loaded, body = split_front_matter(text)
    assert loaded == meta
    assert body == "\n"
    assert [line for line in text.splitlines() if line == "---"] == ["---", "---"]


def test_readme_links_point_at_written_files(tmp_path: Path) -> None:
    result = write_package(tmp_path, make_project(), full_set())
    readme = (result.root / "README.md").read_text("utf-8")
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert len(links) == 7
    for link in links:
        assert (result.root / link).is_file()
    assert "# Shopping: List" in readme
    assert "> Share lists.\n> With family." in readme
    for expected in ("## Generation", "0.1.0", "abc123"):
        assert expected in readme
    assert "| 0.80 |" in readme


def test_readme_table_survives_pipes_in_titles() -> None:
    docs = [make_doc("about", title="A | B\nC")]
    readme = render_readme(make_project(), docs)
    row = next(line for line in readme.splitlines() if line.startswith("| [docs/about.md]"))
    assert row.count(" | ") == 4
    assert "A \\| B C" in row


def test_words_ignore_markup() -> None:
    doc = make_doc("about", title="Hello")
    assert doc.words == 6  # Hello a b one two three; '#', '|' and '-' are markup
    assert replace(doc, content="# Title\n\n| - |\n---\n").words == 1


def test_render_document_ends_with_one_newline() -> None:
    text = render_document(make_doc("specs"), make_project())
    assert text.endswith("| - |\n\n- one two three\n")


def test_rerun_replaces_tree_and_drops_stale_epics(tmp_path: Path) -> None:
    write_package(tmp_path, make_project(), full_set(4))
    stale = tmp_path / "shopping-list" / "docs" / "plans" / "04-epic-4.md"
    assert stale.is_file()
    other = tmp_path / "keep-me"
    other.mkdir()
    result = write_package(tmp_path, make_project(), full_set(2))
    assert not stale.exists()
    assert other.is_dir()
    assert len(result.files) == 7
    assert sorted(os.listdir(tmp_path)) == ["keep-me", "shopping-list", "shopping-list.zip"]


def test_same_input_gives_identical_zip_bytes(tmp_path: Path) -> None:
    first = write_package(tmp_path / "a", make_project(), full_set()).zip_path.read_bytes()
    second = write_package(tmp_path / "b", make_project(), list(reversed(full_set())))
    assert second.zip_path.read_bytes() == first


def test_order_ignores_input_order_and_timezone() -> None:
    shifted = replace(make_project(), generated_at=WHEN.astimezone(timezone(timedelta(hours=5))))
    docs = full_set()
    assert render_readme(make_project(), docs) == render_readme(shifted, docs[::-1])


def test_a_document_kinds_type_lands_in_docs_and_a_bad_type_is_rejected(tmp_path: Path) -> None:
    assert package_path(make_doc("petition")) == PurePosixPath("docs/petition.md")
    with pytest.raises(ValueError, match="unknown document type"):
        package_path(make_doc("../appendix"))
    with pytest.raises(ValueError, match="unknown document type"):
        write_package(tmp_path, make_project(), [make_doc("Appendix X")])


def test_duplicates_are_rejected(tmp_path: Path) -> None:
    docs = [*full_set(2), make_doc("plan_epic", 2, "again")]
    with pytest.raises(ValueError, match="duplicate"):
        write_package(tmp_path, make_project(), docs)
    assert not any(tmp_path.iterdir())


def test_naive_datetime_is_rejected(tmp_path: Path) -> None:
    project = replace(make_project(), generated_at=WHEN.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        write_package(tmp_path, project, full_set(1))


def test_unwritable_out_dir_raises_oserror(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):  # noqa: PT011 - the exact subclass depends on the platform
        write_package(blocker / "plan", make_project(), full_set(1))


def test_colliding_epic_slugs_get_distinct_files(tmp_path: Path) -> None:
    docs = [make_doc("plan_epic", 1, "../x"), make_doc("plan_epic", 2, "/x"), make_doc("about")]
    result = write_package(tmp_path, make_project(), docs)
    names = [p.name for p in result.files]
    assert names == ["README.md", "about.md", "01-x.md", "02-x.md"]


@pytest.mark.parametrize("slug", HOSTILE)
def test_hostile_project_slugs_stay_inside(tmp_path: Path, slug: str) -> None:
    result = write_package(tmp_path / "out", make_project(slug=slug), full_set(1))
    assert_safe(tmp_path / "out", result.zip_path)


def test_symlink_squatting_on_the_slug_is_replaced_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "shopping-list").symlink_to(outside, target_is_directory=True)
    result = write_package(out, make_project(), full_set(1))
    assert (outside / "precious.txt").read_text() == "keep"
    assert not result.root.is_symlink()
    assert (result.root / "README.md").is_file()


def assert_safe(out_dir: Path, zip_path: Path) -> None:
    base = os.path.realpath(out_dir)
    for path in Path(base).rglob("*"):
        assert os.path.commonpath([base, os.path.realpath(path)]) == base
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        for name in names:
            assert ENTRY_PATTERN.match(name), name
            assert ".." not in name.split("/")
        with tempfile.TemporaryDirectory() as target:
            archive.extractall(target)
            real = os.path.realpath(target)
            extracted = [p for p in Path(real).rglob("*") if p.is_file()]
            assert len(extracted) == len(names)
            for path in extracted:
                assert os.path.commonpath([real, os.path.realpath(path)]) == real


hostile_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=320))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    project_slug=hostile_text,
    name=st.text(max_size=80),
    epics=st.lists(st.tuples(hostile_text, st.text(max_size=80)), min_size=1, max_size=4),
)
def test_hostile_inputs_produce_safe_entries(
    project_slug: str, name: str, epics: list[tuple[str, str]]
) -> None:
    docs = [make_doc("about", title=name or "About")]
    docs += [
        make_doc("plan_epic", n, slug, title or "Epic") for n, (slug, title) in enumerate(epics, 1)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        result = write_package(out, make_project(slug=project_slug, name=name), docs)
        assert_safe(out, result.zip_path)
        assert len(result.files) == len(docs) + 1
        for path, doc in zip(result.files[1:], docs, strict=True):
            meta, _ = split_front_matter(path.read_text("utf-8"))
            assert meta["title"] == doc.title
        readme_meta, _ = split_front_matter(result.files[0].read_text("utf-8"))
        assert readme_meta["title"] == name
