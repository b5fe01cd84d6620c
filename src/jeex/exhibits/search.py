"""Searching a project's exhibits and documents: ranked passages with their source.

The tenant comes from the caller's principal and the project is looked up under that
tenant's row-level security first, so a project id of another tenant is a 404 here
before the vector store is ever asked; the store then filters by both ids anyway.
"""

from __future__ import annotations

from typing import Any

from jeex.db.session import Database
from jeex.errors import InvalidInput
from jeex.exhibits import service as exhibits_service
from jeex.projects import service as projects_service
from jeex.retrieval.citations import source_label
from jeex.retrieval.service import Retrieval
from jeex.retrieval.store import Scope
from jeex.tenants.service import Principal

MAX_QUERY_CHARS = 2000


async def search(
    db: Database,
    retrieval: Retrieval,
    principal: Principal,
    project_ref: str,
    query: str,
    *,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Up to ``limit`` passages of the project, best first."""
    query = query.strip()
    if not query:
        raise InvalidInput("the search query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the search query is longer than {MAX_QUERY_CHARS} characters")
    if not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100")
    async with db.tenant_session(principal.tenant_id) as session:
        project = await projects_service.resolve_or_raise(session, ref=project_ref)
        labels = exhibits_service.labels(
            await exhibits_service.list_(session, project_id=project.id)
        )
    passages = await retrieval.search(Scope(principal.tenant_id, project.id), query, limit=limit)
    results = []
    for passage in passages:
        source = source_label(passage, labels)
        if source is None:
            continue
        results.append(
            {
                "label": f"{source} §{passage.ordinal}",
                "score": round(passage.score, 4),
                "type": passage.type,
                "source_id": passage.source_id,
                "title": passage.title,
                "location": passage.location,
                "text": passage.text,
            }
        )
    return results
