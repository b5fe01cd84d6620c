"""Text a person typed, made safe to keep and show: one form, nothing invisible that hides.

Every free-text field of the API goes through ``clean``: Unicode NFC (so "é" typed two ways
is one string, and one slug), control characters removed (C0 but tab and newlines, DEL,
C1), and the invisible characters that hide or reorder what a reader sees (zero-width
space, word joiner, byte-order mark, bidirectional overrides and isolates, as in "Trojan
source"). The zero-width joiner and non-joiner stay: emoji sequences and Persian or Indic
words need them. A required field must still hold a visible character (a letter, digit,
punctuation mark or symbol) afterwards, or it is refused with a 422 that says so.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_HIDING = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff]"
)


def clean(value: str) -> str:
    """NFC, without control and hiding characters, without surrounding whitespace."""
    return _HIDING.sub("", unicodedata.normalize("NFC", value)).strip()


def has_visible(value: str) -> bool:
    """A letter, digit, punctuation mark or symbol: something a reader sees."""
    return any(unicodedata.category(char)[0] in "LNPS" for char in value)


def _visible(value: str) -> str:
    cleaned = clean(value)
    if not has_visible(cleaned):
        raise ValueError("has no visible characters")
    return cleaned


def _optional(value: str) -> str:
    cleaned = clean(value)
    if cleaned and not has_visible(cleaned):
        raise ValueError("has no visible characters")
    return cleaned


#: Required text: cleaned, and at least one visible character.
VisibleText = Annotated[str, AfterValidator(_visible)]
#: Optional text: cleaned; empty is fine, invisible-only is not.
CleanText = Annotated[str, AfterValidator(_optional)]
