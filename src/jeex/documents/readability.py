"""Readability of a document, from textstat, for the languages it has formulas for.

The grammar score stays empty until an offline grammar checker is wired in;
an invented number would be worse than none.
"""

from __future__ import annotations

import re

import textstat

from jeex.languages import READABILITY_LANGUAGES

_MARKUP = re.compile(r"```.*?```|`[^`]*`|[#>*_|\-]+", re.DOTALL)


def readability_score(markdown: str, language: str) -> float | None:
    """Flesch reading ease of the prose (code and markup removed), or None."""
    if language not in READABILITY_LANGUAGES:
        return None
    prose = _MARKUP.sub(" ", markdown)
    if len(prose.split()) < 20:
        return None
    textstat.set_lang(language)
    return round(float(textstat.flesch_reading_ease(prose)), 2)
