"""Short-lived access tokens (JWT, HS256) and the checks every one must pass.

The algorithm list is fixed here, never read from the token: ``alg: none`` and any
other algorithm are refused (SECURITY.md P25). ``iss``, ``aud``, ``exp``, ``iat`` and
``typ`` are required; ``ver`` is the user's token version, so logout revokes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from jeex.config import Settings

ALGORITHM = "HS256"
TOKEN_TYPE = "access"


@dataclass(frozen=True)
class AccessClaims:
    """What a verified token says: who, in which tenant, at which token version."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    version: int


def issue(
    settings: Settings, key: str, *, user_id: uuid.UUID, tenant_id: uuid.UUID, version: int
) -> tuple[str, int]:
    """A signed token and its lifetime in seconds."""
    now = datetime.now(UTC)
    lifetime = timedelta(minutes=settings.auth_token_minutes)
    claims = {
        "iss": settings.auth_issuer,
        "aud": settings.auth_audience,
        "sub": str(user_id),
        "tid": str(tenant_id),
        "ver": version,
        "typ": TOKEN_TYPE,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), int(lifetime.total_seconds())


def verify(settings: Settings, key: str, token: str) -> AccessClaims | None:
    """The token's claims, or None for anything forged, expired, or of another kind."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=settings.auth_audience,
            issuer=settings.auth_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "tid", "ver", "typ"]},
        )
        if claims["typ"] != TOKEN_TYPE or not isinstance(claims["ver"], int):
            return None
        return AccessClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            tenant_id=uuid.UUID(str(claims["tid"])),
            version=claims["ver"],
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
