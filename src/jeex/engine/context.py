"""``RunContext``: what one run's agent is given, built from small typed parts.

The parts (``jeex.engine.scope``, ``sections``, ``sources``, ``documents``, ``units``)
each hold one concern; this class only puts them together for an agent, as the
``jeex.agents.context.AgentContext`` protocol describes.
"""

from __future__ import annotations

from dataclasses import dataclass

from jeex.agents.prompts import Brief
from jeex.config import Settings
from jeex.engine.documents import DocumentSaver
from jeex.engine.scope import RunScope
from jeex.engine.sections import SectionWriter
from jeex.engine.sources import RunSources
from jeex.engine.units import RunUnits
from jeex.kinds import Kind
from jeex.llm.client import LLMClient


@dataclass(frozen=True)
class RunContext:
    """One run's agent context (``AgentContext``)."""

    kind: Kind
    settings: Settings
    llm: LLMClient
    brief: Brief
    project_name: str
    scope: RunScope
    sections: SectionWriter
    sources: RunSources
    documents: DocumentSaver
    units: RunUnits
