"""Languages a document can be written in: the code the user gives, the name the model reads."""

from __future__ import annotations

from jeex.errors import InvalidInput

LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Russian",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "uk": "Ukrainian",
    "cs": "Czech",
    "sv": "Swedish",
    "tr": "Turkish",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
}

#: Languages for which textstat has readability formulas; others get no score.
READABILITY_LANGUAGES = frozenset({"en", "de", "es", "fr", "it", "nl", "ru"})


def validate_language(code: str) -> str:
    normalised = code.strip().lower()
    if normalised not in LANGUAGES:
        known = ", ".join(sorted(LANGUAGES))
        raise InvalidInput(f"unknown language code {code!r}; use one of: {known}")
    return normalised


def language_name(code: str) -> str:
    return LANGUAGES.get(code, "English")
