"""Step 1: the Business Analyst writes ``docs/about.md``."""

from jeex.agents.base import DocumentAgent


class BusinessAnalyst(DocumentAgent):
    agent = "business_analyst"
