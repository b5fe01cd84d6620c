"""Fitting earlier documents into a prompt: the context window is small and shared.

Token counts are estimated at 3.5 characters a token (cautious for English; other
scripts use fewer characters a token, so the estimate errs on the safe side).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from jeex.config import Settings
from jeex.documents.models import DocumentVersion

CHARS_PER_TOKEN = 3.5
RESERVED_TOKENS = 320  # the fixed part of the prompt and the chat template around it
_REVIEW_HEADINGS = re.compile(
    r"^## (Key facts|Open questions|Quality checks)\b.*", re.MULTILINE | re.DOTALL
)


def context_budget_chars(settings: Settings, *, output_tokens: int, prompt_chars: int) -> int:
    """Characters left for reference material once the answer and the prompt have room."""
    tokens = settings.llm_context_size - output_tokens - RESERVED_TOKENS
    return max(0, int(tokens * CHARS_PER_TOKEN) - prompt_chars)


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    boundary = max(cut.rfind("\n\n"), cut.rfind(". "))
    return (cut[: boundary + 1] if boundary > limit // 2 else cut).rstrip() + " …"


def earlier_context(documents: Sequence[DocumentVersion], budget_chars: int) -> str:
    """Key facts first (dense), then each document's text, shared fairly, trimmed at a boundary."""
    if budget_chars <= 0 or not documents:
        return ""
    share = budget_chars // len(documents)
    parts = []
    for doc in documents:
        facts = doc.metadata_.get("key_facts") or []
        body = _REVIEW_HEADINGS.sub("", doc.content).strip()
        text = "\n".join([*(f"- {fact}" for fact in facts), body])
        parts.append(_trim(text, max(0, share - 2)))
    return "\n\n".join(p for p in parts if p)
