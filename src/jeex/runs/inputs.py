"""What a run is given: the input every step and kind receives, stored on the run row."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StepInput(BaseModel):
    """What every step is given: the idea (a document's title), its audience, the user's
    answers and a document's input fields."""

    model_config = ConfigDict(extra="forbid")

    idea_description: str = Field(min_length=1, max_length=20_000)
    target_audience: str = Field(default="", max_length=2_000)
    user_clarifications: dict[str, str] = Field(default_factory=dict)
    language: str = "en"
    #: A document's input fields as ``[label, value]`` pairs, in the kind's order (a plan
    #: step has none): every section's prompt states them as facts.
    facts: list[tuple[str, str]] = Field(default_factory=list, max_length=30)
