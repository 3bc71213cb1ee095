"""The quick check of action server responses agrees with Rasa's full schema check."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from bot.action_checks import _event_dispatch, _valid_by_dispatch, check_action_result

EVENTS: list[dict[str, Any]] = [
    {"event": "slot", "name": "age", "value": 15, "timestamp": None},
    {"event": "slot", "name": "concerns_text", "value": "school 😩 / exams", "timestamp": 1.5},
    {"event": "active_loop", "name": "referral_form"},
    {"event": "active_loop", "name": None},
    {"event": "followup", "name": "action_submit"},
    {"event": "restart"},
    {"event": "reset_slots"},
    {"event": "pause"},
    {"event": "resume"},
    {"event": "bot", "text": "hi", "data": {"buttons": []}, "metadata": {}},
    {"event": "action", "name": "utter_x", "policy": None, "confidence": 1.0},
    {"event": "session_started"},
    {"event": "rewind"},
]
BAD: list[Any] = [
    {"events": [{"event": "slot"}], "responses": []},  # a slot without its name
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [{"name": "x"}], "responses": []},  # no event type
    {"events": [{"event": "slot", "name": "a", "timestamp": "yesterday"}], "responses": []},
    {"events": "slot", "responses": []},
    {"events": [], "responses": "hello"},
    {"events": [5], "responses": []},
]


def full_check(result: Any) -> bool:
    try:
        validate(result, RemoteAction.action_response_format_spec())
    except ValidationError:
        return False
    return True


def test_rasas_schema_has_the_shape_the_quick_check_relies_on() -> None:
    dispatch = _event_dispatch()
    assert dispatch is not None
    assert {"slot", "bot", "active_loop", "followup", "restart"} <= set(dispatch[1])


@pytest.mark.parametrize("event", EVENTS)
def test_valid_events_pass_both_checks(event: dict[str, Any]) -> None:
    result = {"events": [event], "responses": [{"text": "ok", "buttons": []}]}
    assert full_check(result)
    assert _valid_by_dispatch(result)
    assert check_action_result(None, result) is True  # type: ignore[arg-type]


@pytest.mark.parametrize("result", BAD)
def test_invalid_responses_fail_the_quick_check_and_get_rasas_error(result: Any) -> None:
    assert not full_check(result)
    assert not _valid_by_dispatch(result)
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        check_action_result(None, result)  # type: ignore[arg-type]
