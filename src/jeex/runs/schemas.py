"""What the HTTP API says about runs, steps and progress."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jeex.languages import validate_language
from jeex.projects.models import Project
from jeex.projects.schemas import LANGUAGE_SCHEMA, MAX_IDEA_CHARS, NO_NUL
from jeex.runs.inputs import StepInput
from jeex.vocabulary import DesiredState, ProjectStatus, RunStatus, SectionStatus

ClarificationText = Annotated[str, Field(max_length=4_000, pattern=NO_NUL)]


class StepRequest(BaseModel):
    """The agents' input contract; omitted fields come from the project."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "idea_description": "A shared grocery list app for families",
                    "target_audience": "busy parents",
                    "user_clarifications": {"Which platforms?": "iOS and Android first"},
                    "language": "en",
                }
            ]
        },
    )

    idea_description: str | None = Field(
        default=None, min_length=1, max_length=MAX_IDEA_CHARS, pattern=NO_NUL
    )
    target_audience: str | None = Field(default=None, max_length=2_000, pattern=NO_NUL)
    user_clarifications: dict[ClarificationText, ClarificationText] = Field(
        default_factory=dict, max_length=20
    )
    language: str | None = Field(default=None, json_schema_extra=LANGUAGE_SCHEMA)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        return None if value is None else validate_language(value)

    @field_validator("user_clarifications")
    @classmethod
    def _bounded_answers(cls, value: dict[str, str]) -> dict[str, str]:
        if any(len(k) > 500 or len(v) > 4_000 for k, v in value.items()):
            raise ValueError("questions are at most 500 and answers 4000 characters")
        return value

    def to_input(self, project: Project) -> StepInput:
        return StepInput(
            idea_description=self.idea_description or project.idea,
            target_audience=(
                project.audience if self.target_audience is None else self.target_audience
            ),
            user_clarifications=self.user_clarifications,
            language=self.language or project.language,
        )


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    kind: str = Field(description="The kind it writes: a plan step's ('about') or a document's.")
    step: int | None = Field(description="Its plan step; null for a document of another kind.")
    template_id: uuid.UUID | None = Field(
        description="The tenant template version it writes; null for a built-in kind."
    )
    agent_type: str
    correlation_id: uuid.UUID
    status: RunStatus
    desired_state: DesiredState
    attempts: int
    error: str | None
    input: dict[str, Any]
    output: dict[str, Any] | None
    tokens_in: int
    tokens_out: int
    cost: Decimal
    model: str
    prompt_version: str
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class SectionOut(BaseModel):
    key: str
    title: str
    status: SectionStatus
    tokens_out: int
    html: str = Field(description="The section's text as sanitised HTML (empty until written).")


class RunProgressOut(BaseModel):
    id: uuid.UUID
    kind: str
    step: int | None
    status: RunStatus
    desired_state: DesiredState
    sections_done: int
    sections_expected: int
    tokens_in: int
    tokens_out: int
    cost: str
    elapsed_seconds: float
    sections: list[SectionOut]


class ProgressOut(BaseModel):
    """The seeds' preview shape: one look at everything a progress page shows."""

    project_id: uuid.UUID
    status: ProjectStatus
    percentage: float
    elapsed_seconds: float
    eta_seconds: float | None
    tokens_per_second: float | None
    tokens_in: int
    tokens_out: int
    cost: str
    runs: list[RunProgressOut]
    log: list[str] = Field(description="The last 50 events as log lines, oldest first.")
    last_seq: int = Field(
        description="The newest event's seq: follow /events with Last-Event-ID set to it."
    )
