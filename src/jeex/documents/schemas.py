"""What the HTTP API says about documents, their versions and their differences."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    run_id: uuid.UUID | None
    document_type: str
    epic_number: int
    title: str
    version: int
    readability_score: float | None
    grammar_score: float | None = Field(
        description="Always null: no offline grammar checker is wired in yet."
    )
    metadata: dict[str, Any] = Field(validation_alias="metadata_")
    created_at: datetime


class DocumentContentOut(BaseModel):
    id: uuid.UUID
    version: int
    format: Literal["markdown", "html"]
    content: str


class DiffOut(BaseModel):
    document_type: str
    epic_number: int
    from_version: int
    to_version: int
    diff: str = Field(description="Unified diff of the Markdown, from one version to the other.")
