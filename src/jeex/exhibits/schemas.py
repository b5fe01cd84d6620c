"""What the HTTP API returns for exhibits and search results."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from jeex.exhibits.citing import CitedIn
from jeex.exhibits.models import Exhibit
from jeex.vocabulary import ExhibitStatus


class CitedInOut(BaseModel):
    """A written section whose text cites the exhibit."""

    step: int | None
    run_id: uuid.UUID
    section_key: str
    section_title: str


class ExhibitOut(BaseModel):
    """An uploaded file and where its processing stands."""

    id: uuid.UUID
    project_id: uuid.UUID
    label: str = Field(
        description="What sections cite: the id its user chose (1.1.A) or E1, E2 … given in "
        "upload order; never renumbered."
    )
    filename: str
    media_type: str = Field(description="Decided from the content, not the name.")
    size: int
    sha256: str
    status: ExhibitStatus
    error: str | None = Field(
        description="Why processing failed; for a ready exhibit, why only part of it is indexed."
    )
    text_chars: int
    passages: int = Field(
        description="Passages its text makes (while pending: how many are being indexed)."
    )
    passages_indexed: int = Field(description="Passages embedded and searchable so far.")
    partially_indexed: bool = Field(
        description="Ready, but only the first passages are indexed (a limit; see error)."
    )
    estimated_passages: int = Field(description="Passages expected from the file's size and kind.")
    estimated_seconds: float = Field(
        description="Expected time to index it (JEEX_EXHIBITS_PASSAGES_PER_SECOND), shown "
        "before processing starts."
    )
    created_at: datetime
    cited_by: list[CitedInOut] = Field(
        default_factory=list,
        description="Sections (newest run of each) that cite this exhibit.",
    )

    @classmethod
    def of(
        cls, exhibit: Exhibit, estimate: tuple[int, float], cited_by: Sequence[CitedIn] = ()
    ) -> ExhibitOut:
        return cls(
            id=exhibit.id,
            project_id=exhibit.project_id,
            label=exhibit.label,
            filename=exhibit.filename,
            media_type=exhibit.media_type,
            size=exhibit.size,
            sha256=exhibit.sha256,
            status=exhibit.status,
            error=exhibit.error,
            text_chars=exhibit.text_chars,
            passages=exhibit.passages,
            passages_indexed=exhibit.passages_indexed,
            partially_indexed=exhibit.status == ExhibitStatus.READY
            and exhibit.passages_indexed < exhibit.passages,
            estimated_passages=estimate[0],
            estimated_seconds=estimate[1],
            created_at=exhibit.created_at,
            cited_by=[CitedInOut(**vars(c)) for c in cited_by],
        )


class PassageOut(BaseModel):
    """One ranked passage of a search, with its source."""

    label: str = Field(examples=["E2 §3"])
    score: float
    type: str = Field(description="exhibit or document")
    source_id: str
    title: str | None
    location: str | None
    text: str
