"""Step 3: the Architect writes ``docs/architecture.md`` from about and specs."""

from jeex.agents.base import DocumentAgent


class Architect(DocumentAgent):
    agent = "architect"
