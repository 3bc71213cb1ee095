"""Checking referral records against the referral schema (vendored in `handoff/schema/`)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from handoff.errors import InvalidReferral

MAX_PROBLEMS = 10


def load_schema() -> dict[str, Any]:
    """The referral schema shipped with the package."""
    text = resources.files("handoff").joinpath("schema/referral.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    # A full timestamp with its offset (RFC 3339); a bare date or local time is not enough.
    return datetime.fromisoformat(value).tzinfo is not None  # ValueError when malformed


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    checker = FormatChecker()
    checker.checks("date-time", raises=ValueError)(_is_datetime)
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=checker)


def _where(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return "referral" + path


def describe(error: ValidationError) -> str:
    """One problem, naming the schema path but never echoing the (possibly personal) value."""
    where = _where(error)
    if error.validator in ("required", "additionalProperties"):
        # These messages name property keys only, never values.
        return f"{where}: {error.message}"
    expected = json.dumps(error.validator_value)
    return f"{where}: does not satisfy {error.validator} {expected}"


def validate_referral(record: object) -> dict[str, Any]:
    """Return the record if it is valid; raise `InvalidReferral` listing the problems otherwise."""
    if not isinstance(record, dict):
        raise InvalidReferral(["referral: must be a JSON object"])
    errors = sorted(_validator().iter_errors(record), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        problems = [describe(e) for e in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            problems.append(f"and {len(errors) - MAX_PROBLEMS} more")
        raise InvalidReferral(problems)
    return record
