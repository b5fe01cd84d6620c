"""What the HTTP API takes and returns for exports (the routes are built with the API).

``ExportCreate`` validates the request body; the service validates the same rules again,
so the CLI and the API refuse the same input with the same messages.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from jeex.exports.models import Export
from jeex.exports.service import MAX_EXPIRES_HOURS, MIN_EXPIRES_HOURS, download_name
from jeex.vocabulary import ExportStatus


class ExportCreate(BaseModel):
    """``POST /projects/{id}/export``: the format, optional pinned versions, the expiry."""

    model_config = ConfigDict(extra="forbid")

    format: str = Field(description="zip, pdf, docx, xlsx or pptx", examples=["pdf"])
    versions: dict[str, int] | None = Field(
        default=None,
        description='Named versions instead of the latest, e.g. {"about": 1, "epic-2": 3}',
    )
    expires_in_hours: int = Field(default=24, ge=MIN_EXPIRES_HOURS, le=MAX_EXPIRES_HOURS)


class ExportRead(BaseModel):
    """``GET /exports/{id}``: status and, once ready, what the download is."""

    id: uuid.UUID
    project_id: uuid.UUID
    format: str
    status: ExportStatus
    created_at: datetime
    expires_at: datetime | None
    download_count: int
    error: str | None
    filename: str | None
    bytes: int | None
    sha256: str | None
    download_url: str | None = Field(
        default=None, description="Where to download the file, once ready."
    )

    @classmethod
    def of(cls, export: Export) -> ExportRead:
        artifact = export.manifest.get("artifact") or {}
        return cls(
            id=export.id,
            project_id=export.project_id,
            format=export.format,
            status=export.status,
            created_at=export.created_at,
            expires_at=export.expires_at,
            download_count=export.download_count,
            error=export.error,
            filename=download_name(export) if artifact else None,
            bytes=artifact.get("bytes"),
            sha256=artifact.get("sha256"),
        )
