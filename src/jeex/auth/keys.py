"""API keys: ``jeex_<tenant hex>_<prefix>_<secret>``; only a SHA-256 of the secret is stored.

The tenant is part of the key because ``api_keys`` is a tenant table under row-level
security: the key says which tenant's context to look it up in. The secret is 256
random bits, so a fast hash is enough (a slow one protects guessable passwords);
hashes are compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

KEY_PREFIX = "jeex"


@dataclass(frozen=True)
class ParsedKey:
    tenant_id: uuid.UUID
    prefix: str
    secret: str


def new_key(tenant_id: uuid.UUID) -> tuple[str, ParsedKey]:
    """A fresh key (shown once) and its parts."""
    parsed = ParsedKey(tenant_id, secrets.token_hex(6), secrets.token_urlsafe(32))
    return f"{KEY_PREFIX}_{tenant_id.hex}_{parsed.prefix}_{parsed.secret}", parsed


def parse(key: str) -> ParsedKey | None:
    """The parts of something that looks like one of our keys, else None."""
    parts = key.split("_", 3)
    if len(parts) != 4 or parts[0] != KEY_PREFIX or len(parts[2]) != 12 or not parts[3]:
        return None
    try:
        return ParsedKey(uuid.UUID(hex=parts[1]), parts[2], parts[3])
    except ValueError:
        return None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_secret(secret))
