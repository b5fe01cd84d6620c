"""What the lifespan starts and every request borrows: settings, engine, event hub."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from jeex.api.ratelimits import RateLimiter
from jeex.config import Settings
from jeex.db.session import Database
from jeex.events.hub import EventHub
from jeex.retrieval.service import Retrieval


class WorkerProbe(Protocol):
    """What ``/ready`` and ``/health`` ask of the in-process queue worker (``jeex.worker``)."""

    def heartbeat_age(self) -> float | None:
        """Seconds since the database last took the worker's heartbeat; None: not yet."""

    def crashed(self) -> bool:
        """True when the worker stopped for good without being asked to."""


@dataclass
class ApiState:
    settings: Settings
    db: Database
    hub: EventHub
    signing_key: str
    #: The LLM endpoint `/ready` checks; None when this process serves the API only.
    llm_base_url: str | None
    #: Embedder and vector store (exhibits, search); None: those routes answer 503.
    retrieval: Retrieval | None = None
    #: The queue worker this process runs (``jeex serve --workers N``), for the probes.
    worker: WorkerProbe | None = None
    #: Rate limits, counted here or in Redis (JEEX_REDIS_URL).
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings)
