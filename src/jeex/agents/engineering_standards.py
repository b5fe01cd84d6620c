"""Step 2: Engineering Standards writes ``docs/specs.md`` from the about document."""

from jeex.agents.base import DocumentAgent


class EngineeringStandards(DocumentAgent):
    agent = "engineering_standards"
