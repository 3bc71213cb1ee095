"""The follow-up to a disclosure: the crisis reply once, the record, the answer kept."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.safeguarding import FALLBACK_REPLY, ActionSafeguardingReply
from tests.actions.support import texts_of, tracker_from_json, user_said

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

DISCLOSURE = "everything is rubbish and i cut myself last week"
PENDING_CONCERNS = [
    {"event": "slot", "name": "requested_slot", "value": "concerns"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": DISCLOSURE},
    {"event": "action", "name": "action_deactivate_loop"},
    {"event": "active_loop", "name": None},
    {"event": "slot", "name": "requested_slot", "value": None},
]


async def reply(message: dict[str, Any], **slots: Any) -> tuple[dict[str, Any], list[str]]:
    tracker = tracker_from_json(
        "new_conversation",
        slots={"consent": True, "age_band": "13_15", **slots},
        latest_message=message,
        events=PENDING_CONCERNS,
    )
    dispatcher = CollectingDispatcher()
    events = await ActionSafeguardingReply().run(dispatcher, tracker, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, texts_of(
        dispatcher.messages
    )


async def test_the_gateway_already_replied_so_no_second_crisis_reply() -> None:
    verdict = {"severity": 4, "categories": ["self_harm"], "rule_ids": ["self_harm.recent"],
               "escalation_id": "esc-42"}  # fmt: skip
    slots, said = await reply(
        user_said(
            DISCLOSURE,
            "safeguarding_disclosure",
            metadata={"channel": "sms", "safeguarding": verdict},
        )
    )
    assert said == []
    assert slots["sg_severity"] == 4
    assert slots["sg_categories"] == ["self_harm"]
    assert slots["sg_escalation_ids"] == ["esc-42"]


async def test_without_the_gateway_the_crisis_reply_is_sent() -> None:
    found = {"severity": 4, "categories": ["self_harm"], "rule_ids": ["x"], "escalation_id": None,
             "source": "rules"}  # fmt: skip
    slots, said = await reply(user_said(DISCLOSURE, "safeguarding_disclosure", safeguarding=found))
    assert len(said) == 1 and said[0]
    assert slots["sg_severity"] == 4 and slots["sg_escalation_ids"] == []


async def test_a_disclosure_given_as_what_is_going_on_is_kept_as_that_answer() -> None:
    slots, _ = await reply(user_said(DISCLOSURE, "safeguarding_disclosure"))
    assert slots["concerns"] == DISCLOSURE
    assert slots["safe_now"] is None and slots["keep_going"] is None


async def test_an_answer_already_given_is_not_overwritten() -> None:
    slots, _ = await reply(user_said(DISCLOSURE, "safeguarding_disclosure"), concerns="exams")
    assert "concerns" not in slots


async def test_severity_never_goes_down() -> None:
    verdict = {"severity": 4, "categories": ["abuse"], "escalation_id": "esc-2"}
    slots, _ = await reply(
        user_said(DISCLOSURE, "safeguarding_disclosure", metadata={"safeguarding": verdict}),
        sg_severity=5,
        sg_categories=["suicide"],
        sg_escalation_ids=["esc-1"],
    )
    assert slots["sg_severity"] == 5
    assert slots["sg_categories"] == ["suicide", "abuse"]
    assert slots["sg_escalation_ids"] == ["esc-1", "esc-2"]


async def test_a_crisis_reply_is_sent_even_if_the_rules_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import actions.safeguarding as module

    def broken(text: str, *args: Any) -> Any:
        raise RuntimeError("rules unavailable")

    monkeypatch.setattr(module.safeguarding_rules, "screen", broken)
    _, said = await reply(user_said(DISCLOSURE, "safeguarding_disclosure"))
    assert said == [FALLBACK_REPLY]


async def test_a_disclosure_given_as_what_they_enjoy_is_kept_as_that_answer() -> None:
    """Asked again, the same answer would only raise the same disclosure again (a loop)."""
    text = "i used to box at the gym but i been carrying a shank everywhere"
    events = [dict(e, value="interests") if e.get("name") == "requested_slot" and e["value"]
              else dict(e, text=text) if e["event"] == "user" else e
              for e in PENDING_CONCERNS]  # fmt: skip
    tracker = tracker_from_json(
        "new_conversation",
        slots={"consent": True, "age_band": "16_17", "concerns": "stress"},
        latest_message=user_said(text, "safeguarding_disclosure"),
        events=events,
    )
    events_out = await ActionSafeguardingReply().run(CollectingDispatcher(), tracker, {})
    slots = {e["name"]: e["value"] for e in events_out if e["event"] == "slot"}
    assert slots["interests"] == text


async def answered_during(asked: str, text: str, **slots: Any) -> dict[str, Any]:
    """The slots set when a disclosure is the answer to the question for `asked`."""
    tracker = tracker_from_json(
        "new_conversation",
        slots={"consent": True, "age_band": "13_15", **slots},
        latest_message=user_said(text, "safeguarding_disclosure"),
        events=[
            {"event": "slot", "name": "requested_slot", "value": asked},
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text},
        ],
    )
    events = await ActionSafeguardingReply().run(CollectingDispatcher(), tracker, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def test_a_disclosure_in_answer_to_are_you_safe_is_not_asked_again() -> None:
    """Answering "are you safe right now?" with more of what is happening ("hes at work now. i
    dont want to go home later") is not a yes: the check goes on, not round the same question."""
    slots = await answered_during(
        "safe_now", "hes at work now. i dont want to go home later", concerns=DISCLOSURE
    )
    assert slots["safe_now"] is False and slots["keep_going"] is None


async def test_a_disclosure_given_with_the_area_keeps_the_area() -> None:
    """The area is not asked again after the safety check, to be told the same thing again."""
    text = "Bradford, but i dont want to go home tonight. my step dad hits me when hes drunk"
    slots = await answered_during("area", text, concerns="exams", area=None)
    assert slots["area"] == "Bradford"
