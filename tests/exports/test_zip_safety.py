"""Zip-slip: hostile project and epic slugs never make an entry that leaves the root (P19)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jeex.exports.zip_export import render_zip
from support.exports import Doc, make_bundle, standard_docs

SAFE_NAME = re.compile(r"^[A-Za-z0-9._ -]{1,120}(/[A-Za-z0-9._ -]{1,120})*$")
HOSTILE = [
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "/absolute",
    "C:\\evil",
    "con",
    "aux.md",
    "..",
    ".",
    "",
    "a/../../b",
    "Ünïcödé ☃ ﷽",
    "x" * 500,
    "name\x00with-nul",
    "\u202egnp.exe",
]


def _docs_with_slugs(slugs: list[str]) -> list[Doc]:
    docs = standard_docs(0)
    for number, slug in enumerate(slugs, 1):
        record = {"number": number, "title": slug or "t", "slug": slug, "goal": "",
                  "depends_on": [], "estimate_days": None}  # fmt: skip
        docs.append(Doc("plan_epic", f"# {slug}\n", epic_number=number, title=slug or "t",
                        metadata={"epic": record}))  # fmt: skip
    return docs


def _assert_safe(data: bytes, tmp: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert len(set(names)) == len(names)
        for name in names:
            assert SAFE_NAME.match(name), name
            assert ".." not in name.split("/")
            assert not name.startswith(("/", "\\"))
            assert not re.match(r"^[A-Za-z]:", name)
        archive.extractall(tmp)
        for entry in zipfile.Path(archive).iterdir():
            assert entry.name
    root = tmp.resolve()
    for path in tmp.rglob("*"):
        assert root in path.resolve().parents


def test_hostile_slugs_stay_inside(tmp_path: Path) -> None:
    for index, project_slug in enumerate(HOSTILE):
        bundle = make_bundle(_docs_with_slugs(HOSTILE), slug=project_slug, name=project_slug or "p")
        data, manifest = render_zip(bundle)
        _assert_safe(data, tmp_path / str(index))
        assert SAFE_NAME.match(manifest["project"]["slug"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    project_slug=st.text(max_size=80),
    slugs=st.lists(st.text(max_size=80), min_size=1, max_size=4),
)
def test_any_slug_stays_inside(tmp_path: Path, project_slug: str, slugs: list[str]) -> None:
    data, _ = render_zip(make_bundle(_docs_with_slugs(slugs), slug=project_slug))
    target = tmp_path / f"x{abs(hash((project_slug, tuple(slugs))))}"
    _assert_safe(data, target)
