"""Pydantic input/output contracts of the four agents.

They mirror the seeds' agent contracts so that the HTTP API (which accepts the
inputs as request bodies) and the audit trail (which stores inputs and outputs
on the run row) speak the same shape as the agents themselves.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from jeex.runs.inputs import StepInput


class ChecklistItem(BaseModel):
    """One validation check of a finished document and whether it passed."""

    item: str
    passed: bool
    detail: str = ""


class BusinessAnalystInput(StepInput):
    """Input of step 1 (Business Analyst → about.md)."""


class EngineeringStandardsInput(StepInput):
    """Input of step 2 (Engineering Standards → specs.md)."""


class ArchitectInput(StepInput):
    """Input of step 3 (Architect → architecture.md)."""


class ImplementationPlannerInput(StepInput):
    """Input of step 4 (Implementation Planner → plans/)."""


class StepOutput(BaseModel):
    """What every step returns; stored as the run's output for the audit."""

    description_document: str
    key_facts: list[str] = Field(default_factory=list)
    confidence_score: float = Field(ge=0.0, le=1.0)
    validation_checklist: list[ChecklistItem] = Field(default_factory=list)
    suggested_questions: list[str] = Field(default_factory=list, max_length=5)


class BusinessAnalystOutput(StepOutput):
    """Output of step 1."""


class EngineeringStandardsOutput(StepOutput):
    """Output of step 2."""


class ArchitectOutput(StepOutput):
    """Output of step 3."""


class Epic(BaseModel):
    """One epic of the implementation plan, after repair."""

    number: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=120)
    slug: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=60)
    goal: str = ""
    depends_on: list[int] = Field(default_factory=list)
    estimate_days: int | None = Field(default=None, ge=1, le=365)


class ImplementationPlannerOutput(StepOutput):
    """Output of step 4: the overview plus the repaired epic list."""

    epics: list[Epic] = Field(default_factory=list)


# --- Raw structured output asked of the model (validated, then repaired) ---


class RawEpic(BaseModel):
    """An epic as a weak model writes it: every field may be messy."""

    number: int | None = None
    title: str = ""
    goal: str = ""
    depends_on: list[int] = Field(default_factory=list)
    estimate_days: int | None = None


class RawEpicPlan(BaseModel):
    """The model's answer to "list the epics"; repaired by `agents.repair`."""

    epics: list[RawEpic] = Field(default_factory=list)


class RawExtraction(BaseModel):
    """The model's answer to "extract key facts and questions" from a document."""

    key_facts: list[str] = Field(default_factory=list)
    suggested_questions: list[str] = Field(default_factory=list)
