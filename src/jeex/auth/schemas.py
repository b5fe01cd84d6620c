"""What the auth routes answer."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict


class TokenOut(BaseModel):
    """OAuth2 token response (RFC 6749 §5.1) plus the tenant the token acts in."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…",
                    "token_type": "bearer",
                    "expires_in": 1800,
                    "tenant_id": "6f1c2d3e-0000-4000-8000-000000000000",
                }
            ]
        }
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    tenant_id: uuid.UUID


class MeOut(BaseModel):
    user_id: uuid.UUID
    email: str
    tenant_id: uuid.UUID
    tenant_slug: str
    role: str
    authenticated_by: Literal["token", "api_key"]


class ProviderOut(BaseModel):
    """A sign-in provider as the sign-in page shows it."""

    id: str
    name: str
    #: Where the "Sign in with <name>" button goes (this API, which redirects onwards).
    login_url: str


class ProvidersOut(BaseModel):
    """How one can sign in here: with a password (unless switched off) and each provider."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "passwords": True,
                    "providers": [
                        {
                            "id": "corp",
                            "name": "Corp SSO",
                            "login_url": "/api/v1/auth/oidc/corp/login",
                        }
                    ],
                }
            ]
        }
    )

    passwords: bool
    providers: list[ProviderOut]
