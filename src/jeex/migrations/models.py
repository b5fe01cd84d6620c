"""Imports every mapped class so that ``Base.metadata`` knows the whole schema."""

from jeex.audit.models import AuditEvent
from jeex.auth.models import OidcLogin
from jeex.db.base import Base
from jeex.documents.models import DocumentVersion
from jeex.events.models import Event
from jeex.exhibits.models import Exhibit
from jeex.exports.models import Export
from jeex.projects.models import Project
from jeex.runs.models import Run, RunSection
from jeex.tenant_templates.models import TenantTemplate
from jeex.tenants.models import ApiKey, Invitation, Membership, Tenant, TenantQuota, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "DocumentVersion",
    "Event",
    "Exhibit",
    "Export",
    "Invitation",
    "Membership",
    "OidcLogin",
    "Project",
    "Run",
    "RunSection",
    "Tenant",
    "TenantQuota",
    "TenantTemplate",
    "User",
]
