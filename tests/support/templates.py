"""Tenant template YAML for the API tests: a valid one, and its edit."""

from __future__ import annotations

from typing import Any

import httpx

from support.api import Caller


def grant_letter(key: str = "grant_letter", *, closing_words: int = 50) -> str:
    """A valid tenant template (``closing_words`` changes its content, so its fingerprint)."""
    return f"""\
# A tenant's own kind: a letter to a grant body.
key: {key}
document_type: {key}
title: Grant letter for {{project}}
description: A letter asking a foundation for a grant.
agent: null
kind:
  label: Grant letter
  output: {key.replace("_", "-")}.md
sections:
  - key: ask
    title: The ask
    target_words: 80
    instructions: Say what the grant is for and how much is asked.
  - key: closing
    title: Closing
    target_words: {closing_words}
    instructions: Thank the foundation and say how to reach the applicant.
"""


async def upload(
    client: httpx.AsyncClient, caller: Caller, source: str, *, status: int = 201
) -> Any:
    response = await client.post(
        "/api/v1/templates",
        content=source.encode(),
        headers={**caller.headers, "Content-Type": "application/yaml"},
    )
    assert response.status_code == status, response.text
    return response.json()
