"""Text as PostgreSQL stores it."""

from __future__ import annotations

from typing import Any


def without_nul(value: Any) -> Any:
    """U+0000 removed from every string (keys too): PostgreSQL text and jsonb cannot hold it,
    a model can write it (``\\u0000`` in JSON), and it never means anything."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value
