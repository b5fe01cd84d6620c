"""From an ``Authorization: Bearer …`` value to the tenant a request runs in.

Two kinds of bearer: an access token (JWT) or an API key (``jeex_…``). The tenant
comes from the credential; ``X-Tenant-ID`` may only pick another tenant the user is
a member of (checked in that tenant's context). An API key is bound to its tenant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from jeex.auth import keys, tokens
from jeex.auth import service as auth_service
from jeex.auth.service import AuthPrincipal
from jeex.config import Settings
from jeex.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Credentials:
    """A bearer whose signature or shape checked out; the database decides the rest."""

    tenant_id: uuid.UUID
    claims: tokens.AccessClaims | None = None
    key: keys.ParsedKey | None = None
    chosen: bool = False

    async def principal(self, session: AsyncSession) -> AuthPrincipal:
        """Needs a session bound to ``tenant_id``."""
        if self.key is not None:
            return await auth_service.principal_from_key(session, self.key)
        assert self.claims is not None
        return await auth_service.principal_from_token(session, self.claims, chosen=self.chosen)


def parse(
    settings: Settings, signing_key: str, bearer: str | None, tenant_header: uuid.UUID | None
) -> Credentials:
    if not bearer:
        raise Unauthorized("sign in: send Authorization: Bearer <access token or API key>")
    parsed_key = keys.parse(bearer)
    if parsed_key is not None:
        if tenant_header is not None and tenant_header != parsed_key.tenant_id:
            raise Forbidden("an API key works only in its own tenant")
        return Credentials(tenant_id=parsed_key.tenant_id, key=parsed_key)
    claims = tokens.verify(settings, signing_key, bearer)
    if claims is None:
        raise Unauthorized("the access token is invalid or expired")
    chosen = tenant_header is not None and tenant_header != claims.tenant_id
    return Credentials(tenant_id=tenant_header or claims.tenant_id, claims=claims, chosen=chosen)
