"""Saving a finished document as the run's version of it, once, whoever saves it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from jeex.db.retry import ride_out_restart
from jeex.documents import service as documents_service
from jeex.documents.models import DocumentVersion
from jeex.engine.scope import RunScope
from jeex.engine.sources import RunSources
from jeex.vocabulary import EventType


@dataclass
class DocumentSaver:
    """``jeex.agents.context.Documents`` for one run."""

    scope: RunScope
    sources: RunSources
    language: str
    created_by: uuid.UUID | None

    async def save(
        self,
        *,
        document_type: str,
        epic_number: int,
        title: str,
        content: str,
        metadata: dict[str, Any],
    ) -> DocumentVersion:
        document, created = await ride_out_restart(
            lambda: self._save_once(
                document_type=document_type,
                epic_number=epic_number,
                title=title,
                content=content,
                metadata=metadata,
            )
        )
        if created:  # a reused version was indexed by the job that wrote it
            await self.sources.index_document(document)
        return document

    async def _save_once(
        self,
        *,
        document_type: str,
        epic_number: int,
        title: str,
        content: str,
        metadata: dict[str, Any],
    ) -> tuple[DocumentVersion, bool]:
        """The run's version of this document, and whether this call created it."""
        async with self.scope.session() as session:
            existing = await documents_service.get_for_run(
                session,
                run_id=self.scope.run_id,
                document_type=document_type,
                epic_number=epic_number,
            )
            if existing is not None:  # written by another job of this run: reuse, no event
                return existing, False
            document = await documents_service.create(
                session,
                project_id=self.scope.project_id,
                run_id=self.scope.run_id,
                document_type=document_type,
                epic_number=epic_number,
                title=title,
                content=content,
                language=self.language,
                metadata=metadata,
                created_by=self.created_by,
            )
            await self.scope.emit(
                session,
                EventType.DOCUMENT_CREATED,
                {
                    "document_id": str(document.id),
                    "document_type": document_type,
                    "epic_number": epic_number,
                    "version": document.version,
                    "title": title,
                },
            )
        return document, True
