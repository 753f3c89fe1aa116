"""Offline language identification for the watchdog's routing (optional).

MiniLM and the English rules read English; a turn in another language goes to the rules for
fr/de/es/it/pt/nl/pl/sv/tr and, when an LLM extractor is configured, to the LLM. `detect_language` uses the
`lingua-language-detector` package (offline, maintained, accurate on short texts), restricted to the
ten languages the watchdog knows, so that loading it costs little. Without the package it returns
None and the watchdog treats every turn as its rules do (no language routing).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

log = logging.getLogger("repair.agents.watchdog")

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "sv", "tr")
PACKAGE = "lingua-language-detector"


@lru_cache(maxsize=1)
def _detector() -> Any | None:
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
    except ImportError:
        log.info("watchdog: %s not installed, no language routing", PACKAGE)
        return None
    codes = [getattr(IsoCode639_1, c.upper()) for c in LANGUAGES]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_preloaded_language_models().build()


def available() -> bool:
    return _detector() is not None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` among `LANGUAGES`, or None (no detector, or no letters to judge)."""
    det = _detector()
    if det is None or not any(c.isalpha() for c in text):
        return None
    lang = det.detect_language_of(text)
    return None if lang is None else lang.iso_code_639_1.name.lower()
