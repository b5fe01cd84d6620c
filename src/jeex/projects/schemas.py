"""What a caller gives to create a project, validated before anything is written."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jeex.languages import LANGUAGES, validate_language
from jeex.typed_text import CleanText, VisibleText
from jeex.vocabulary import ProjectStatus

MAX_IDEA_CHARS = 20_000
#: PostgreSQL text cannot hold NUL; saying so in the schema keeps clients (and fuzzers) honest.
NO_NUL = r"^[^\x00]*$"
#: The language codes, listed in OpenAPI (validation itself is case-insensitive).
LANGUAGE_SCHEMA: dict[str, Any] = {"enum": list(LANGUAGES)}


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    idea: CleanText = Field(max_length=MAX_IDEA_CHARS)
    name: CleanText | None = Field(default=None, max_length=200)
    audience: CleanText = Field(default="", max_length=2_000)
    language: str = "en"

    @field_validator("idea")
    @classmethod
    def _idea_not_blank(cls, value: str) -> str:
        if not value:
            raise ValueError("the idea is empty; describe the product in a sentence or more")
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return validate_language(value)


class ProjectCreateIn(BaseModel):
    """``POST /projects``: the seeds' field names (``idea_description``, ``target_audience``)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Grocery list",
                    "idea_description": "A shared grocery list app for families",
                    "target_audience": "busy parents",
                    "language": "en",
                }
            ]
        },
    )

    name: VisibleText = Field(min_length=1, max_length=200, pattern=NO_NUL)
    idea_description: VisibleText = Field(min_length=1, max_length=MAX_IDEA_CHARS, pattern=NO_NUL)
    target_audience: CleanText = Field(default="", max_length=2_000, pattern=NO_NUL)
    language: str = Field(default="en", json_schema_extra=LANGUAGE_SCHEMA)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return validate_language(value)

    def to_create(self) -> ProjectCreate:
        return ProjectCreate(
            idea=self.idea_description,
            name=self.name,
            audience=self.target_audience,
            language=self.language,
        )


class ProjectUpdate(BaseModel):
    """``PATCH /projects/{id}``: the fields given are changed, the others kept."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: VisibleText | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    idea_description: VisibleText | None = Field(
        default=None, min_length=1, max_length=MAX_IDEA_CHARS, pattern=NO_NUL
    )
    target_audience: CleanText | None = Field(default=None, max_length=2_000, pattern=NO_NUL)
    language: str | None = Field(default=None, json_schema_extra=LANGUAGE_SCHEMA)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        return None if value is None else validate_language(value)


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    idea_description: str = Field(validation_alias="idea")
    target_audience: str = Field(validation_alias="audience")
    language: str
    status: ProjectStatus
    current_step: int
    created_at: datetime
    updated_at: datetime


class ProjectPage(BaseModel):
    items: list[ProjectOut]
    total: int
    limit: int
    offset: int
