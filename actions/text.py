"""Normalising free text the way young people type it, before matching words in it."""

from __future__ import annotations

import re

_APOSTROPHES = re.compile(r"[’‘`´']")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_NON_WORD = re.compile(r"[^a-z0-9+/]+")
# Punctuation dictated to voice-to-text, written out: "15 full stop", "yes thats fine full stop".
DICTATED = re.compile(
    r"\b(?:full stop|question mark|exclamation mark|comma|new line)\b", re.IGNORECASE
)


def normalise(text: str) -> str:
    """Lower-case, drop apostrophes, squeeze stretched letters ("soooo" -> "soo"), single spaces."""
    lowered = DICTATED.sub(" ", _APOSTROPHES.sub("", text.lower()))
    lowered = _REPEATS.sub(r"\1\1", lowered)
    return _NON_WORD.sub(" ", lowered).strip()


def words(text: str) -> list[str]:
    """The normalised words of a text."""
    return normalise(text).split()
