"""What ``/documents`` takes and answers: the specification's document monitor shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jeex.languages import validate_language
from jeex.projects.schemas import LANGUAGE_SCHEMA, NO_NUL
from jeex.typed_text import CleanText, VisibleText


class DocumentStatus(StrEnum):
    """A document as its user sees it (the specification's five states).

    idle: nothing is being written (not started yet, or cancelled); generating: queued
    or being written; paused: asked to pause, or paused; completed; error: failed.
    """

    IDLE = "idle"
    GENERATING = "generating"
    PAUSED = "paused"
    COMPLETED = "completed"
    ERROR = "error"


class DocumentCreate(BaseModel):
    """``POST /documents``."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "kind": "petition",
                    "title": "EB-1A petition for Dr. Ana Ruiz",
                    "case_ref": "2026-EB1-014",
                    "inputs": {
                        "beneficiary": "Dr. Ana Ruiz",
                        "field": "computational biology",
                    },
                }
            ]
        },
    )

    kind: str = Field(min_length=1, max_length=60, description="A kind's key (GET /kinds).")
    title: VisibleText = Field(min_length=1, max_length=200, pattern=NO_NUL)
    case_ref: CleanText | None = Field(default=None, max_length=120, pattern=NO_NUL)
    inputs: dict[str, CleanText] = Field(
        default_factory=dict, description="The kind's input fields by key (GET /kinds)."
    )
    exhibit_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="Ready exhibits of other documents or projects to copy into this one, "
        "under their labels.",
    )
    language: str = Field(default="en", json_schema_extra=LANGUAGE_SCHEMA)
    generate: bool = Field(
        default=True,
        description="Start writing at once; false leaves it idle, to upload exhibits first "
        "and then POST /documents/{id}/generate.",
    )

    @field_validator("title")
    @classmethod
    def _visible_title(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("the title has no letters or digits")
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return validate_language(value)


class DocumentStarted(BaseModel):
    """``POST /documents`` and ``/generate``: what was created and where it stands."""

    id: uuid.UUID
    status: DocumentStatus
    run_id: uuid.UUID | None


class DocumentOut(BaseModel):
    """One document in a list."""

    id: uuid.UUID
    kind: str
    title: str
    case_ref: str | None
    status: DocumentStatus
    inputs: dict[str, str]
    language: str
    created_at: datetime
    updated_at: datetime


class PreviewSection(BaseModel):
    section_id: str = Field(description="The section's key in its template.")
    section_name: str
    section_order: int
    status: Literal["pending", "generating", "completed", "failed"]
    content_html: str = Field(description="Sanitised HTML of the text so far.")
    updated_at: datetime | None
    tokens_used: int


class PreviewExhibit(BaseModel):
    exhibit_id: str = Field(description="The id its user chose (1.1.A), or E<n>.")
    filename: str
    file_size: int
    mime_type: str
    uploaded_at: datetime
    status: str
    download_url: str


class PreviewMetadata(BaseModel):
    total_sections: int
    completed_sections: int
    progress_percentage: float
    elapsed_time: float = Field(description="Seconds spent writing so far.")
    estimated_remaining: float | None = Field(description="Seconds; null before a section.")
    total_tokens: int
    estimated_cost: str


class PreviewLog(BaseModel):
    timestamp: datetime
    level: Literal["info", "warning", "error"]
    message: str
    agent: str


class PreviewOut(BaseModel):
    """``GET /documents/{id}/preview``: everything a monitor page shows, from one query."""

    id: uuid.UUID
    kind: str
    title: str
    case_ref: str | None
    status: DocumentStatus
    run_id: uuid.UUID | None
    run_status: str | None = Field(description="The current run's own status.")
    sections: list[PreviewSection]
    exhibits: list[PreviewExhibit]
    metadata: PreviewMetadata
    logs: list[PreviewLog] = Field(description="The last 50 events, oldest first.")
    last_seq: int = Field(description="Follow /projects/{id}/events from here.")
