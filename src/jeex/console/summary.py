"""The table printed when ``jeex plan`` ends: every file, its size, cost and review state."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from jeex.agents.quality import READER_DEFECTS
from jeex.documents.models import DocumentVersion
from jeex.exports.package import PackageResult


def summary_rows(
    documents: Sequence[DocumentVersion], package: PackageResult
) -> list[dict[str, Any]]:
    """One row per document file, in package order (README excluded)."""
    files = [f for f in package.files if f.name != "README.md" or f.parent != package.root]
    rows = []
    for doc, path in zip(documents, files, strict=True):
        meta = doc.metadata_
        rows.append(
            {
                "file": path.relative_to(package.root).as_posix(),
                "document_type": doc.document_type,
                "epic_number": doc.epic_number,
                "version": doc.version,
                "words": int(meta.get("words", len(doc.content.split()))),
                "tokens": int(meta.get("tokens_in", 0)) + int(meta.get("tokens_out", 0)),
                "seconds": float(meta.get("seconds", 0.0)),
                "confidence": meta.get("confidence"),
                "defects": [
                    check["item"]
                    for check in meta.get("validation_checklist", [])
                    if not check.get("passed") and check.get("item") in READER_DEFECTS
                ],
                "open_questions": list(meta.get("suggested_questions", [])),
            }
        )
    return rows


def _confidence(value: float | None, defects: Sequence[str]) -> str:
    """The score, and why it is capped: the checks a reader would see failing at once."""
    if value is None:
        return "—"
    why = "".join(f"\n✗ {defect}" for defect in defects)
    return f"{value:.2f}{why}"


def summary_table(rows: Sequence[dict[str, Any]], zip_path: Path) -> Table:
    table = Table(title=f"Documentation package · {zip_path.name}", show_lines=False)
    for column, justify in [
        ("File", "left"),
        ("Words", "right"),
        ("Tokens", "right"),
        ("Time", "right"),
        ("Confidence", "right"),
        ("Open questions", "left"),
    ]:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        confidence = row["confidence"]
        questions = row["open_questions"]
        table.add_row(
            row["file"],
            str(row["words"]),
            str(row["tokens"]),
            f"{row['seconds']:.1f}s",
            _confidence(confidence, row.get("defects") or []),
            "\n".join(f"• {q}" for q in questions) if questions else "—",
        )
    return table
