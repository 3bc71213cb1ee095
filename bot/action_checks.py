"""Checks the action server's responses with a schema compiled once.

Rasa 3.6 checks every action server response with `jsonschema.validate`, which first checks the
schema itself: under load on a 2-core machine that was two thirds of the Rasa server's CPU time.
Installed by `bot.speedups`, this makes Rasa use validators compiled once instead, and
check each event against its own type's schema rather than against all 23 (see
`_event_dispatch`): same schema, same error on a bad response, a fraction of the cost.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from jsonschema import ValidationError, validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@cache
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    return validators.validator_for(schema)(schema)


@cache
def _event_dispatch() -> tuple[Any, dict[str, Any]] | None:
    """Validators for the response without its events, and for each event type on its own.

    Rasa's schema says each event must match exactly one of 23 alternatives (`oneOf`), each
    fixing `event` to its own constant: validating that way checks every event against all 23.
    Since the constants differ, only the alternative named by the event's own `event` can
    match, so "exactly one matches" is the same as "the one it names matches". None when the
    schema is not of that shape (a later Rasa): the full check is then the only one.
    """
    schema = RemoteAction.action_response_format_spec()
    try:
        items = schema["properties"]["events"]["items"]
        branches = items["oneOf"]
    except (KeyError, TypeError):
        return None
    base = {key: value for key, value in items.items() if key != "oneOf"}
    by_event: dict[str, Any] = {}
    for branch in branches:
        name = branch.get("properties", {}).get("event", {}).get("const")
        if not isinstance(name, str) or name in by_event:
            return None
        event_schema = {"allOf": [base, branch]}
        by_event[name] = validators.validator_for(schema)(event_schema)
    skeleton = copy.deepcopy(schema)
    skeleton["properties"]["events"]["items"] = {"type": "object"}
    return validators.validator_for(schema)(skeleton), by_event


def _valid_by_dispatch(result: Any) -> bool:
    """True when the response is valid, checking each event against its own type only."""
    dispatch = _event_dispatch()
    if dispatch is None or not isinstance(result, dict):
        return False
    skeleton, by_event = dispatch
    if not skeleton.is_valid(result):
        return False
    for event in result.get("events") or []:
        name = event.get("event") if isinstance(event, dict) else None
        validator = by_event.get(name) if isinstance(name, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def check_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result`: a valid response passes the quick check; anything
    else gets Rasa's full check, and so the same error Rasa would raise."""
    if _valid_by_dispatch(result):
        return True
    error: ValidationError | None = best_match(_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    """Make Rasa check action server responses with the compiled validator."""
    RemoteAction._validate_action_result = check_action_result  # type: ignore[method-assign]
