"""Actions that call the handoff API, against a fake handoff server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from rasa_sdk.executor import CollectingDispatcher

from actions import routing
from actions.settings import SCHEMA_FILE, ActionSettings
from tests.actions.support import FakeHandoff, fake_handoff, texts_of, tracker_from_json, user_said

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

TOKEN = "service-token-for-tests"
SCHEMA = Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


@pytest.fixture
def handoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHandoff]:
    with fake_handoff() as server:
        settings = ActionSettings(server.url, TOKEN, retry_delays=(0.05, 0.05))
        monkeypatch.setattr(routing, "current", lambda: settings)
        yield server


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def run(action: Any, tracker: Any) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return slots_of(events), texts_of(dispatcher.messages)


async def test_yes_posts_a_schema_valid_referral_with_the_service_token(
    handoff: FakeHandoff,
) -> None:
    slots, _ = await run(routing.ActionFinishReferral(), tracker_from_json("referral_ready"))

    (request,) = handoff.requests
    assert request["method"] == "POST" and request["path"] == "/api/referrals"
    assert request["authorization"] == f"Bearer {TOKEN}"
    referral = request["body"]["referral"]
    assert [e.message for e in SCHEMA.iter_errors(referral)] == []
    assert request["body"]["flags"] == []
    assert referral["source"] == {
        "channel": "sms",
        "conversation_id": "conv-7f3a9c",
        "completed": True,
    }
    assert referral["contact"]["address"] is None
    assert referral["young_person"]["age_band"] == "13_15"
    assert {i["category"] for i in referral["interests"]} == {"sport_fitness", "gaming_tech"}
    assert all(i["own_words"] == "football and fifa" for i in referral["interests"])
    # The id the API answers with is kept, and the same id is reused on any later attempt.
    assert slots["referral_id"] == referral["referral_id"] == slots["referral_uuid"]
    assert (slots["stage"], slots["outcome"]) == ("sent", "sent")


async def test_the_id_from_the_post_response_is_the_one_kept(handoff: FakeHandoff) -> None:
    handoff.replies.append((201, {"referral_id": "merged-into-existing-draft"}))
    slots, _ = await run(routing.ActionFinishReferral(), tracker_from_json("referral_ready"))
    assert slots["referral_id"] == "merged-into-existing-draft"


async def test_a_busy_handoff_api_is_retried(handoff: FakeHandoff) -> None:
    handoff.replies.append((503, {"detail": "busy"}))
    slots, _ = await run(routing.ActionFinishReferral(), tracker_from_json("referral_ready"))
    assert len(handoff.requests) == 2
    assert handoff.requests[0]["body"] == handoff.requests[1]["body"]
    assert slots["outcome"] == "sent"


async def test_handoff_down_keeps_everything_so_yes_can_be_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with fake_handoff() as server:
        url = server.url  # the port is free again once the server stops
    monkeypatch.setattr(
        routing, "current", lambda: ActionSettings(url, TOKEN, retry_delays=(0.05, 0.05))
    )
    started = time.monotonic()
    slots, _ = await run(routing.ActionFinishReferral(), tracker_from_json("referral_ready"))
    assert time.monotonic() - started < 5
    assert slots["outcome"] == "send_failed" and slots["confirm"] is None
    assert slots["referral_uuid"]  # the same id is used when they say yes again
    assert "concerns" not in slots and "stage" not in slots


async def test_a_refused_referral_is_not_retried(handoff: FakeHandoff) -> None:
    handoff.replies.append((422, {"detail": "invalid"}))
    slots, _ = await run(routing.ActionFinishReferral(), tracker_from_json("referral_ready"))
    assert len(handoff.requests) == 1
    assert slots["outcome"] == "send_failed"


async def test_asking_for_a_person_sends_what_is_known_flagged(handoff: FakeHandoff) -> None:
    tracker = tracker_from_json(
        "new_conversation",
        slots={"consent": True, "age": 15, "age_band": "13_15", "concerns": "my mum and dad argue"},
        latest_message=user_said(
            "can i talk to a real person", "human_handoff", metadata={"channel": "telegram"}
        ),
    )
    slots, said = await run(routing.ActionHumanHandoff(), tracker)

    (request,) = handoff.requests
    assert request["body"]["flags"] == ["asked_for_person"]
    referral = request["body"]["referral"]
    assert [e.message for e in SCHEMA.iter_errors(referral)] == []
    assert referral["priority"] == "priority"
    assert referral["source"] == {
        "channel": "telegram",
        "conversation_id": "conv-2b81d0",
        "completed": False,
    }
    assert [c["category"] for c in referral["concerns"]] == ["family"]
    assert slots["asked_for_person"] is True
    assert "link worker" in said[0]


async def test_asking_for_a_person_first_offers_the_referral_while_they_wait(
    handoff: FakeHandoff,
) -> None:
    tracker = tracker_from_json(
        "new_conversation", latest_message=user_said("can i talk to someone")
    )
    slots, said = await run(routing.ActionHumanHandoff(), tracker)
    assert len(handoff.requests) == 1 and slots["asked_for_person"] is True
    assert "While you wait" in said[0]


def _asking(slot: str, text: str, **slots: Any) -> Any:
    events = [
        {"event": "slot", "name": "requested_slot", "value": slot},
        {"event": "user", "text": text},
    ]
    return tracker_from_json(
        "new_conversation",
        slots={"consent": True, "age": 15, "age_band": "13_15", "requested_slot": slot, **slots},
        events=events,
        latest_message=user_said(text, "human_handoff"),
    )


async def test_someone_to_talk_to_is_also_what_matters_to_them(handoff: FakeHandoff) -> None:
    slots, said = await run(
        routing.ActionHumanHandoff(), _asking("what_matters", "someone to talk to")
    )
    assert slots["what_matters"] == "someone to talk to" and slots["asked_for_person"] is True
    assert "While you wait" not in said[0]


async def test_asking_again_for_a_person_answers_the_open_question(handoff: FakeHandoff) -> None:
    """Once they have asked, the same words again are the answer, not the question again."""
    first, _ = await run(
        routing.ActionHumanHandoff(), _asking("concerns", "i need someone to talk to")
    )
    assert "concerns" not in first
    again, _ = await run(
        routing.ActionHumanHandoff(),
        _asking("concerns", "i need someone to talk to", asked_for_person=True),
    )
    assert again["concerns"] == "i need someone to talk to"


@pytest.mark.parametrize(
    ("slots", "outcome"),
    [({"consent": False}, "declined"), ({"age_band": "under_11"}, "too_young"),
     ({"age_band": "over_25"}, "too_old")],
)  # fmt: skip
async def test_nothing_is_sent_when_there_is_no_referral_to_make(
    handoff: FakeHandoff, slots: dict[str, Any], outcome: str
) -> None:
    tracker = tracker_from_json("referral_ready", slots=slots)
    result, _ = await run(routing.ActionFinishReferral(), tracker)
    assert handoff.requests == []
    assert result["outcome"] == outcome
    assert result["concerns"] is None and result["age"] is None  # keeps nothing


async def test_stopping_after_the_safety_check_sends_what_they_told_us(
    handoff: FakeHandoff,
) -> None:
    tracker = tracker_from_json(
        "new_conversation",
        slots={"consent": True, "age": 14, "age_band": "13_15", "preferred_name": "Chloe",
               "concerns": "ive been burning myself with a lighter", "safe_now": True,
               "keep_going": False, "stage": "in_progress"},
        latest_message=user_said("no", "deny"),
    )  # fmt: skip
    slots, _ = await run(routing.ActionAfterSafetyCheck(), tracker)

    (request,) = handoff.requests
    referral = request["body"]["referral"]
    assert [e.message for e in SCHEMA.iter_errors(referral)] == []
    assert referral["young_person"]["age_band"] == "13_15"
    assert referral["source"]["completed"] is False
    assert referral["concerns"][0]["own_words"] == "ive been burning myself with a lighter"
    assert slots["resume_referral"] is False and slots["referral_id"]


async def test_keeping_going_after_the_safety_check_sends_nothing_yet(handoff: FakeHandoff) -> None:
    tracker = tracker_from_json(
        "new_conversation",
        slots={"consent": True, "age": 14, "age_band": "13_15", "safe_now": True,
               "keep_going": True, "stage": "in_progress"},
    )  # fmt: skip
    slots, _ = await run(routing.ActionAfterSafetyCheck(), tracker)
    assert handoff.requests == [] and slots == {"resume_referral": True}
