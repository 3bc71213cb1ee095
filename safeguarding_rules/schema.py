"""Schemas (JSON Schema subset) for the data files; ``python -m safeguarding_rules schema``
prints the rule-file schema for editors that validate YAML against JSON Schema."""

from __future__ import annotations

from typing import Any

from safeguarding_rules.categories import AGE_BANDS, CATEGORIES, MAX_SEVERITY, MIN_SEVERITY

_TEXT = {"type": "string", "minLength": 1}
_TEXT_LIST = {"type": "array", "minItems": 1, "items": _TEXT}
_SLUG = {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$", "description": "must be a slug"}
_CONVERSATIONS = {"type": "array", "minItems": 1, "items": _TEXT_LIST}

RULE_FILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "YouthLink safeguarding rule file (rules/<category>.yml)",
    "type": "object",
    "additionalProperties": False,
    "required": ["category", "rules"],
    "properties": {
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "description": {"type": "string"},
        "rules": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/rule"}},
        "combinations": {"type": "array", "items": {"$ref": "#/$defs/combination"}},
    },
    "$defs": {
        "rule": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "category", "severity", "rationale", "patterns", "examples"],
            "properties": {
                "id": {
                    "type": "string",
                    "pattern": r"^[a-z_]+(\.[a-z0-9_]+)+$",
                    "description": "must look like <category>.<name>[.<name>...]",
                },
                "category": {"type": "string", "enum": list(CATEGORIES)},
                "severity": {"type": "integer", "minimum": MIN_SEVERITY, "maximum": MAX_SEVERITY},
                "rationale": _TEXT,
                "patterns": _TEXT_LIST,
                "exceptions": {"type": "array", "items": _TEXT},
                "requires_any": _TEXT_LIST,
                "signal": _SLUG,
                "tags": {"type": "array", "items": _SLUG},
                "examples": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["match", "no_match"],
                    "properties": {"match": _TEXT_LIST, "no_match": _TEXT_LIST},
                },
            },
        },
        "combination": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "id",
                "category",
                "severity",
                "rationale",
                "signals",
                "min_signals",
                "window",
                "examples",
            ],
            "properties": {
                "id": {
                    "type": "string",
                    "pattern": r"^[a-z_]+(\.[a-z0-9_]+)+$",
                    "description": "must look like <category>.<name>[.<name>...]",
                },
                "category": {"type": "string", "enum": list(CATEGORIES)},
                "severity": {"type": "integer", "minimum": MIN_SEVERITY, "maximum": MAX_SEVERITY},
                "rationale": _TEXT,
                "signals": {"type": "array", "minItems": 2, "items": _SLUG},
                "min_signals": {"type": "integer", "minimum": 2},
                "window": {"type": "integer", "minimum": 1, "maximum": 50},
                "examples": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["match", "no_match"],
                    "properties": {"match": _CONVERSATIONS, "no_match": _CONVERSATIONS},
                },
            },
        },
    },
}

TERMS_SCHEMA: dict[str, Any] = {
    "title": "Named pattern fragments (rules/_terms.yml), used in patterns as {name}",
    "type": "object",
    "additionalProperties": {"anyOf": [_TEXT, _TEXT_LIST]},
}

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

NORMALISE_SCHEMA: dict[str, Any] = {
    "title": "Normalisation vocabulary (rules/_normalise.yml)",
    "type": "object",
    "additionalProperties": False,
    "required": ["emoji", "leet", "words"],
    "properties": {
        "emoji": _STRING_MAP,
        "confusables": _STRING_MAP,
        "leet": _STRING_MAP,
        "apostrophe_words": _STRING_MAP,
        "protect": _STRING_MAP,
        "words": {"type": "object", "additionalProperties": _TEXT_LIST},
        "fillers": {"type": "array", "items": _TEXT},
        "last_words": _STRING_MAP,
        "censored": {"type": "array", "items": _TEXT},
    },
}

CONTACTS_SCHEMA: dict[str, Any] = {
    "title": "UK helplines (contacts.yml)",
    "type": "object",
    "additionalProperties": False,
    "required": ["contacts"],
    "properties": {
        "contacts": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "reply", "last_checked"],
                "properties": {
                    "name": _TEXT,
                    "reply": _TEXT,
                    "phone": {"type": "string"},
                    "text": {"type": "string"},
                    "url": {"type": "string"},
                    "hours": {"type": "string"},
                    "who": {"type": "string"},
                    "last_checked": {"type": "string", "format": "date"},
                },
            },
        }
    },
}

_BAND_KEYS = [*AGE_BANDS, "under_18", "any"]
_BAND_MAP = {
    "type": "object",
    "additionalProperties": False,
    "properties": {band: _TEXT for band in _BAND_KEYS},
}

REPLIES_SCHEMA: dict[str, Any] = {
    "title": "Crisis replies (replies.yml)",
    "type": "object",
    "additionalProperties": False,
    "required": ["max_length", "replies", "help"],
    "properties": {
        "max_length": {"type": "integer", "minimum": 70, "maximum": 1600},
        "replies": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["default", "now"],
                "properties": {"default": _BAND_MAP, "now": _BAND_MAP},
            },
        },
        "help": _BAND_MAP,
    },
}
