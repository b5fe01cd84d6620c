"""The export formats: their names, file extensions and media types, in one place.

The service validates requests against ``FORMATS`` and the database check constraint
on ``exports.format`` holds the same list, so a format is added here and there together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    """What a download of one format is called and served as."""

    name: str
    extension: str
    media_type: str
    description: str


_ALL = (
    ExportFormat("zip", "zip", "application/zip", "the Markdown tree with README and manifest"),
    ExportFormat("pdf", "pdf", "application/pdf", "the whole package as one typeset PDF"),
    ExportFormat(
        "docx",
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "the whole package as a Word document",
    ),
    ExportFormat(
        "xlsx",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "the implementation plan: epics and tasks",
    ),
    ExportFormat(
        "pptx",
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "a short summary deck",
    ),
)
BY_NAME: dict[str, ExportFormat] = {f.name: f for f in _ALL}
FORMATS: tuple[str, ...] = tuple(BY_NAME)


def get_format(name: str) -> ExportFormat | None:
    """Names are matched case-insensitively: ``PDF`` on a command line means ``pdf``."""
    return BY_NAME.get(name.strip().lower())
