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


#: Tokens a word takes, measured with the bundled SmolLM2's tokenizer on the same paragraph
#: in four languages (issue 15): its vocabulary is English-first, so Russian takes about
#: five tokens a word. Other languages are not measured and get a generous figure; a larger
#: tokenizer (an external model's) takes fewer, so these err on the long side.
TOKENS_PER_WORD: dict[str, float] = {"en": 1.15, "es": 1.9, "de": 2.5, "ru": 5.0}
UNMEASURED_TOKENS_PER_WORD = 3.0


def tokens_for_words(words: int, code: str) -> int:
    """About how many tokens ``words`` words of language ``code`` take."""
    return round(words * TOKENS_PER_WORD.get(code, UNMEASURED_TOKENS_PER_WORD))


def validate_language(code: str) -> str:
    normalised = code.strip().lower()
    if normalised not in LANGUAGES:
        known = ", ".join(sorted(LANGUAGES))
        raise InvalidInput(f"unknown language code {code!r}; use one of: {known}")
    return normalised


def language_name(code: str) -> str:
    return LANGUAGES.get(code, "English")
