"""Write a project's documentation package as a Markdown tree plus a ZIP of the same tree.

Slugs come from model output and user input, so they are treated as hostile (SECURITY.md
P19): every path segment is re-slugified here and every target is checked to stay inside
``out_dir`` before anything is written.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import yaml
from slugify import slugify

__all__ = [
    "PackageDocument",
    "PackageProject",
    "PackageResult",
    "front_matter",
    "order_documents",
    "check_entry_names",
    "package_entries",
    "package_path",
    "render_document",
    "render_readme",
    "safe_slug",
    "write_package",
]

SLUG_MAX_LENGTH = 60
README_NAME = "README.md"
ENTRY_PATTERN = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")

_FIXED_PATHS: dict[str, PurePosixPath] = {
    "about": PurePosixPath("docs/about.md"),
    "specs": PurePosixPath("docs/specs.md"),
    "architecture": PurePosixPath("docs/architecture.md"),
    "plan_overview": PurePosixPath("docs/plans/overview.md"),
}
#: A document kind's type (``petition``, a tenant's ``grant_letter``): after the plan's.
_OTHER_TYPE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TYPE_ORDER: dict[str, int] = {
    "about": 0,
    "specs": 1,
    "architecture": 2,
    "plan_overview": 3,
    "plan_epic": 4,
}
# Windows refuses these as file or folder names whatever the extension.
_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
_SLUG_SHAPE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# str.splitlines() breaks on these besides "\n"; none may appear raw in front matter.
_LINE_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# ZIP timestamps cannot express dates outside this range.
_ZIP_MIN = (1980, 1, 1, 0, 0, 0)
_ZIP_MAX = (2107, 12, 31, 23, 59, 58)


@dataclass(frozen=True)
class PackageDocument:
    """One approved document version, as it goes into the package."""

    document_type: str
    epic_number: int
    epic_slug: str
    title: str
    version: int
    content: str
    generated_at: datetime
    model: str
    confidence: float | None = None

    @property
    def words(self) -> int:
        """Count only tokens with a letter or digit, so tables and headings don't inflate it."""
        return sum(1 for token in self.content.split() if any(ch.isalnum() for ch in token))


@dataclass(frozen=True)
class PackageProject:
    """Project-level facts shown in the README and every front matter block."""

    name: str
    slug: str
    language: str
    idea: str
    audience: str
    project_id: str
    generated_at: datetime
    model: str
    template_versions: dict[str, str]
    jeex_version: str


@dataclass(frozen=True)
class PackageResult:
    """Where the package landed, so the caller can report and register the export."""

    root: Path
    zip_path: Path
    files: list[Path]


def safe_slug(value: str, fallback: str) -> str:
    """Re-slugify even already-slugged input: the caller's slug is not trusted for paths."""
    slug = str(slugify(value, max_length=SLUG_MAX_LENGTH, word_boundary=True, lowercase=True))
    slug = slug.strip("-")
    if not _SLUG_SHAPE.match(slug):
        return fallback
    if slug in _RESERVED_NAMES:
        return f"{slug}-{fallback}"
    return slug


def package_path(doc: PackageDocument) -> PurePosixPath:
    """Fixed names keep links stable across runs; epics get a number prefix so they sort."""
    if doc.document_type == "plan_epic":
        if doc.epic_number < 1:
            raise ValueError(f"plan_epic needs a positive epic_number, got {doc.epic_number}")
        name = f"{doc.epic_number:02d}-{safe_slug(doc.epic_slug, 'epic')}.md"
        return PurePosixPath("docs/plans") / name
    if doc.document_type in _FIXED_PATHS:
        return _FIXED_PATHS[doc.document_type]
    if _OTHER_TYPE.fullmatch(doc.document_type):  # a document kind's own: docs/petition.md
        return PurePosixPath("docs") / f"{doc.document_type}.md"
    raise ValueError(f"unknown document type: {doc.document_type!r}")


def _iso_utc(moment: datetime) -> str:
    """Naive datetimes would silently take the machine's zone, so they are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("generated_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _dump(data: dict[str, object], *, allow_unicode: bool) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=allow_unicode, width=1000)


def _round_trips(body: str, data: dict[str, object]) -> bool:
    """Raw exotic line breaks would split the block for line-based readers."""
    return not _LINE_BREAKS.intersection(body) and yaml.safe_load(body) == data


def front_matter(meta: Mapping[str, object]) -> str:
    """Readable Unicode when it is safe; escaped ASCII when PyYAML would mangle it (NEL)."""
    data = dict(meta)
    body = _dump(data, allow_unicode=True)
    if not _round_trips(body, data):
        body = _dump(data, allow_unicode=False)
    if not _round_trips(body, data):
        raise ValueError("front matter does not survive a YAML round trip")
    return f"---\n{body}---\n\n"


def _document_meta(doc: PackageDocument, project: PackageProject) -> dict[str, object]:
    meta: dict[str, object] = {
        "title": doc.title,
        "document_type": doc.document_type,
        "version": doc.version,
        "project": project.name,
        "language": project.language,
        "generated_at": _iso_utc(doc.generated_at),
        "model": doc.model,
    }
    if doc.document_type == "plan_epic":
        meta["epic_number"] = doc.epic_number
    return meta


def render_document(doc: PackageDocument, project: PackageProject) -> str:
    """One trailing newline keeps files diff-friendly and the ZIP bytes stable."""
    return front_matter(_document_meta(doc, project)) + doc.content.rstrip() + "\n"


def _cell(text: str) -> str:
    """Table cells must stay on one line and must not open new columns."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


def _blockquote(text: str) -> list[str]:
    lines = text.strip().splitlines() or [""]
    return [f"> {line}".rstrip() for line in lines]


def _confidence(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _documents_table(docs: Sequence[PackageDocument]) -> list[str]:
    rows = [
        "| File | Title | Version | Words | Confidence |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for doc in docs:
        path = package_path(doc).as_posix()
        rows.append(
            f"| [{path}]({path}) | {_cell(doc.title)} | {doc.version} | {doc.words} "
            f"| {_confidence(doc.confidence)} |"
        )
    return rows


def _generation_section(project: PackageProject) -> list[str]:
    lines = [
        "## Generation",
        "",
        f"- Model: {_cell(project.model)}",
        f"- JEEX version: {_cell(project.jeex_version)}",
        f"- Generated at: {_iso_utc(project.generated_at)}",
        f"- Language: {_cell(project.language)}",
        "- Template versions:",
    ]
    if not project.template_versions:
        lines.append("  - none")
    for key in sorted(project.template_versions):
        lines.append(f"  - {_cell(key)}: {_cell(project.template_versions[key])}")
    return lines


def _readme_meta(project: PackageProject) -> dict[str, object]:
    return {
        "title": project.name,
        "document_type": "readme",
        "version": 1,
        "project": project.name,
        "language": project.language,
        "generated_at": _iso_utc(project.generated_at),
        "model": project.model,
    }


def render_readme(project: PackageProject, docs: Sequence[PackageDocument]) -> str:
    """The index a reader opens first; documents are listed in package order."""
    ordered = order_documents(docs)
    lines = [
        f"# {_cell(project.name)}",
        "",
        *_blockquote(project.idea),
        "",
        f"**Audience:** {_cell(project.audience)}",
        "",
        "## Documents",
        "",
        *_documents_table(ordered),
        "",
        *_generation_section(project),
    ]
    return front_matter(_readme_meta(project)) + "\n".join(lines) + "\n"


def _sort_key(doc: PackageDocument) -> tuple[int, str, int]:
    if doc.document_type in _TYPE_ORDER:
        return (_TYPE_ORDER[doc.document_type], "", doc.epic_number)
    package_path(doc)  # refuses a type that is no kind's
    return (len(_TYPE_ORDER), doc.document_type, doc.epic_number)


def order_documents(docs: Iterable[PackageDocument]) -> list[PackageDocument]:
    """Input order depends on the DB query; the package must not."""
    ordered = sorted(docs, key=_sort_key)
    seen: set[tuple[str, int]] = set()
    for doc in ordered:
        key = (doc.document_type, doc.epic_number)
        if key in seen:
            raise ValueError(f"duplicate document: {key[0]} #{key[1]}")
        seen.add(key)
    return ordered


def package_entries(
    project: PackageProject, docs: Sequence[PackageDocument]
) -> list[tuple[str, bytes]]:
    """All (entry name, bytes) pairs under ``<slug>/``, built once so the tree, its ZIP
    and the ZIP export cannot disagree."""
    slug = safe_slug(project.slug, "project")
    ordered = order_documents(docs)
    items = [(PurePosixPath(README_NAME), render_readme(project, ordered))]
    items += [(package_path(doc), render_document(doc, project)) for doc in ordered]
    entries = [(f"{slug}/{path.as_posix()}", text.encode("utf-8")) for path, text in items]
    check_entry_names([name for name, _ in entries])
    return entries


def check_entry_names(names: Sequence[str]) -> None:
    """Last line of defence: a slug bug must fail loudly, never write a stray path."""
    if len(set(names)) != len(names):
        raise ValueError("package paths collide")
    for name in names:
        parts = name.split("/")
        if not ENTRY_PATTERN.match(name) or any(part in {".", ".."} for part in parts):
            raise ValueError(f"unsafe package path: {name!r}")


def _inside(base: Path, target: Path) -> Path:
    """Resolve the parent's symlinks so a planted link cannot redirect a write.

    The last segment is not followed: it is about to be replaced, not written through.
    """
    base_real = os.path.realpath(base)
    target_real = os.path.join(os.path.realpath(target.parent), target.name)
    if os.path.commonpath([base_real, target_real]) != base_real:
        raise ValueError(f"refusing to write outside {base}: {target}")
    return target


def _write_tree(base: Path, entries: Sequence[tuple[str, bytes]]) -> None:
    for name, data in entries:
        target = _inside(base, base / name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _zip_date_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    utc = moment.astimezone(UTC)
    stamp = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    return max(_ZIP_MIN, min(_ZIP_MAX, stamp))


def zip_bytes(entries: Sequence[tuple[str, bytes]], moment: datetime) -> bytes:
    """Fixed timestamps, modes and order make the same input give the same bytes."""
    date_time = _zip_date_time(moment)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def _remove(path: Path) -> None:
    """A symlink or file squatting on the name is unlinked, never followed."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _swap_in(staged: Path, final: Path, scratch: Path) -> None:
    """Move the old tree aside first, so the final name is missing only for an instant."""
    old = scratch / ".previous"  # a leading dot can never be a slug
    if final.is_symlink() or final.exists():
        os.replace(final, old)
    os.replace(staged, final)
    _remove(old)


def _write_zip(
    out_dir: Path, slug: str, entries: Sequence[tuple[str, bytes]], moment: datetime
) -> Path:
    zip_path = _inside(out_dir, out_dir / f"{slug}.zip")
    handle, temp_name = tempfile.mkstemp(prefix=f".{slug}-", suffix=".zip.tmp", dir=out_dir)
    os.close(handle)
    try:
        Path(temp_name).write_bytes(zip_bytes(entries, moment))
        os.chmod(temp_name, 0o644)  # mkstemp's 0600 would hide the export from other users
        os.replace(temp_name, zip_path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return zip_path


def write_package(
    out_dir: Path, project: PackageProject, docs: Sequence[PackageDocument]
) -> PackageResult:
    """Stage everything in out_dir, then swap it in, so a failed run leaves the old package."""
    slug = safe_slug(project.slug, "project")
    entries = package_entries(project, docs)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_dir = out_dir.resolve()
    root = _inside(out_dir, out_dir / slug)
    scratch = Path(tempfile.mkdtemp(prefix=f".{slug}-", suffix=".tmp", dir=out_dir))
    try:
        _write_tree(scratch, entries)
        _swap_in(scratch / slug, root, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    zip_path = _write_zip(out_dir, slug, entries, project.generated_at)
    files = [out_dir / name for name, _ in entries]
    return PackageResult(root=root, zip_path=zip_path, files=files)
