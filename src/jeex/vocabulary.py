"""The words the whole product shares: every status and every event type, declared once.

They are ``StrEnum``s so a member *is* its string: the database keeps the plain
values (its CHECK constraints list the same ones), JSON carries them unchanged, and
the pydantic schemas built on them make OpenAPI list the values. The browser reads
them from ``GET /api/v1/vocabulary`` instead of retyping them.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a run is; ``jeex.runs.lifecycle`` is the only code that moves it."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DesiredState(StrEnum):
    """What a user asked of a run; the worker applies it at the next section boundary."""

    RUN = "run"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class SectionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ProjectStatus(StrEnum):
    """A project mirrors its latest run (``ready`` once a run completed)."""

    DRAFT = "draft"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"


class ExportStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


class ExhibitStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class EventType(StrEnum):
    """Every event the event log holds and the SSE stream sends, in the order of a run."""

    RUN_QUEUED = "run.queued"
    RUN_STARTED = "run.started"
    SECTION_STARTED = "section.started"
    SECTION_DELTA = "section.delta"
    SECTION_COMPLETED = "section.completed"
    RUN_PAUSED = "run.paused"
    RUN_RESUMED = "run.resumed"
    RUN_CANCELLED = "run.cancelled"
    RUN_FAILED = "run.failed"
    RUN_COMPLETED = "run.completed"
    DOCUMENT_CREATED = "document.created"
    EXPORT_READY = "export.ready"
    #: An exhibit was uploaded (its label, file name and size) / finished processing.
    EXHIBIT_ADDED = "exhibit.added"
    EXHIBIT_PROCESSED = "exhibit.processed"
    #: Indexing of a pending exhibit moved on (passages embedded of those to index).
    EXHIBIT_PROGRESS = "exhibit.progress"


#: A run in one of these states never moves again unless a user retries it.
TERMINAL_RUN_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


def check_values(enum: type[StrEnum]) -> str:
    """The SQL list of an enum's values, for the CHECK constraint that mirrors it."""
    return ", ".join(f"'{member.value}'" for member in enum)


class Role(StrEnum):
    """A member's role in a tenant, from most to least power (``rank`` orders them).

    owner: everything, including making owners; admin: also manages members and reads the
    security log, but cannot make or touch owners; editor: creates, runs and changes;
    viewer: reads.
    """

    OWNER = "owner"
    ADMIN = "admin"
    EDITOR = "editor"
    VIEWER = "viewer"


class AuditAction(StrEnum):
    """What the security audit log records (``audit_events.action``)."""

    SIGNIN_SUCCEEDED = "signin.succeeded"
    SIGNIN_FAILED = "signin.failed"
    TENANT_CREATED = "tenant.created"
    INVITATION_CREATED = "invitation.created"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_REVOKED = "invitation.revoked"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    QUOTA_REFUSED = "quota.refused"
    TEMPLATE_CREATED = "template.created"
    TEMPLATE_REVISED = "template.revised"
    TEMPLATE_RETIRED = "template.retired"
