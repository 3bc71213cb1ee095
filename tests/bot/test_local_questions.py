"""The questions asked inside Rasa are, message for message, the ones the action server asks."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from rasa.core.actions import action as rasa_actions
from rasa.core.actions.action import RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor

from actions.questions import load_book
from bot import local_questions

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

REPO = Path(__file__).resolve().parents[2]
ENDPOINT = EndpointConfig("http://127.0.0.1:1/webhook")


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(REPO / "bot" / "domain"))


@pytest.fixture(autouse=True)
def installed() -> Any:
    original = rasa_actions.action_for_name_or_text
    local_questions.install()
    yield
    rasa_actions.action_for_name_or_text = original


def slot_settings() -> list[tuple[str, dict[str, Any]]]:
    """Every question with the slot values of each of its wordings, and with none."""
    book = load_book()
    cases = []
    for slot, variations in book.variations.items():
        cases.append((slot, {}))
        cases.extend((slot, dict(v.when)) for v in variations if v.when)
    return cases


def tracker_with(domain: Domain, slots: dict[str, Any]) -> DialogueStateTracker:
    events = [
        UserUttered("i'm 12 and school is rubbish 😩", {"name": "inform", "confidence": 1.0}),
        ActiveLoop("referral_form"),
        *(SlotSet(name, value) for name, value in slots.items()),
    ]
    return DialogueStateTracker.from_events("c1", events, slots=domain.slots)


async def from_action_server(name: str, tracker: DialogueStateTracker, domain: Domain) -> Any:
    """What Rasa makes of the action server's answer, the request and answer sent as JSON."""
    executor = ActionExecutor()
    executor.register_package("actions")
    call = RemoteAction(name, ENDPOINT)._action_call_format(tracker, domain)
    answer = await executor.run(json.loads(json.dumps(call)))
    assert answer is not None and answer["events"] == []
    responses = json.loads(json.dumps(answer["responses"]))
    return await RemoteAction._utter_responses(
        responses, CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker
    )


@pytest.mark.parametrize(("slot", "slots"), slot_settings())
def test_each_wording_is_the_message_the_action_server_sends(
    domain: Domain, slot: str, slots: dict[str, Any]
) -> None:
    name = f"action_ask_{slot}"
    tracker = tracker_with(domain, slots)
    action = rasa_actions.action_for_name_or_text(name, domain, ENDPOINT)
    assert isinstance(action, local_questions.LocalQuestion) and action.name() == name

    here = asyncio.run(
        action.run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, domain
        )
    )
    there = asyncio.run(from_action_server(name, copy.deepcopy(tracker), domain))
    assert here == there
    assert len(here) == 1 and isinstance(here[0], BotUttered)
    assert here[0].data["custom"] == {"asking": load_book().asking[slot]}


def test_the_wording_follows_the_slots_the_tracker_holds(domain: Domain) -> None:
    action = local_questions.LocalQuestion("concerns")
    texts = set()
    for band in ("11_12", "13_15", "16_17", "18_25"):
        tracker = tracker_with(domain, {"age_band": band})
        [message] = asyncio.run(
            action.run(
                CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, domain
            )
        )
        texts.add(message.text)
    assert len(texts) == 4


def test_every_other_action_is_rasas_own(domain: Domain) -> None:
    lookup = rasa_actions.action_for_name_or_text
    assert isinstance(lookup("action_ask_confirm", domain, ENDPOINT), RemoteAction)
    assert isinstance(lookup("validate_referral_form", domain, ENDPOINT), RemoteAction)
    assert isinstance(lookup("action_route", domain, ENDPOINT), RemoteAction)
    assert isinstance(lookup("referral_form", domain, ENDPOINT), FormAction)
    assert lookup("action_listen", domain, ENDPOINT).name() == "action_listen"


def test_every_question_a_form_asks_is_asked_here_but_the_summary(domain: Domain) -> None:
    forms = {slot for form in domain.forms.values() for slot in form["required_slots"]}
    asked_here = {s for s in forms if local_questions.local_slot(f"action_ask_{s}", domain)}
    assert asked_here == forms - {"confirm"}


def test_an_action_missing_from_the_domain_is_not_asked_here(domain: Domain) -> None:
    bare = Domain.from_dict({"actions": ["action_route"]})
    assert local_questions.local_slot("action_ask_age", bare) is None
    assert local_questions.local_slot("action_ask_age", domain) == "age"
    with pytest.raises(Exception, match="action_ask_age"):
        rasa_actions.action_for_name_or_text("action_ask_age", bare, ENDPOINT)
