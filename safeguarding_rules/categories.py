"""Safeguarding categories and age bands (slugs are a contract, see taxonomy.yml)."""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "suicide",
    "self_harm",
    "abuse",
    "sexual_abuse",
    "criminal_exploitation",
    "harm_to_others",
    "eating_disorder",
    "substance_misuse",
    "immediate_danger",
)

AGE_BANDS: tuple[str, ...] = ("11_12", "13_15", "16_17", "18_25", "unknown")
UNDER_18_BANDS: frozenset[str] = frozenset({"11_12", "13_15", "16_17"})

MIN_SEVERITY = 1
MAX_SEVERITY = 5
DEFAULT_ESCALATE_AT = 4
