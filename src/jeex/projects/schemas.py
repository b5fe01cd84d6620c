"""What a caller gives to create a project, validated before anything is written."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jeex.languages import validate_language

MAX_IDEA_CHARS = 20_000


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    idea: str = Field(max_length=MAX_IDEA_CHARS)
    name: str | None = Field(default=None, max_length=200)
    audience: str = Field(default="", max_length=2_000)
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
