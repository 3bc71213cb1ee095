"""Answers validated inside Rasa give, event for event, what the action server's answer gives."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import pytest
from rasa.core.actions import forms as rasa_forms
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActiveLoop,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
    deserialise_events,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import ActionExecutionRejection as SdkRejection
from rasa_sdk.executor import ActionExecutor

from actions import forms as action_forms
from bot import local_validation
from tests.bot import stories

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

# Nothing listens on port 1: a call that reached the network would fail.
ENDPOINT = EndpointConfig("http://127.0.0.1:1/webhook")


@pytest.fixture(scope="module")
def domain_and_stories() -> tuple[Domain, list[list[Event]]]:
    """The domain, and the events of every rule and test story the bot is trained and tested on."""
    return stories.domain_and_stories()


@pytest.fixture(autouse=True)
def installed(monkeypatch: pytest.MonkeyPatch) -> Any:
    # The consent time is the only value that depends on when a validator runs.
    monkeypatch.setattr(action_forms, "utc_now", lambda: "2026-11-29T12:00:00Z")
    original = rasa_forms.RemoteAction
    local_validation.install()
    yield
    rasa_forms.RemoteAction = original


async def from_action_server(name: str, tracker: DialogueStateTracker, domain: Domain) -> Any:
    """What Rasa makes of the action server's answer, the call and the answer sent as JSON."""
    executor = ActionExecutor()
    executor.register_package("actions")
    call = RemoteAction(name, ENDPOINT)._action_call_format(tracker, domain)
    answer = json.loads(json.dumps(await executor.run(json.loads(json.dumps(call)))))
    messages = await RemoteAction._utter_responses(
        answer["responses"],
        CollectingOutputChannel(),
        TemplatedNaturalLanguageGenerator({}),
        tracker,
    )
    return [*messages, *deserialise_events(answer["events"])]


def run_here(name: str, tracker: DialogueStateTracker, domain: Domain) -> list[Event]:
    action = rasa_forms.RemoteAction(name, ENDPOINT)
    assert isinstance(action, local_validation.LocalValidation) and action.name() == name
    return asyncio.run(
        action.run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, domain
        )
    )


def form_turns(domain: Domain, events: list[Event]) -> list[tuple[str, DialogueStateTracker]]:
    """Each answer to a form's question in the story, as the form's temporary tracker."""
    tracker = DialogueStateTracker("validation-test", domain.slots)
    turns = []
    for event in events:
        tracker.update(copy.deepcopy(event))
        loop = tracker.active_loop_name
        requested = tracker.get_slot("requested_slot")
        if not isinstance(event, UserUttered) or not loop or not requested:
            continue
        form = FormAction(loop, ENDPOINT)
        candidate: list[Event] = [SlotSet(requested, event.text or "")]
        turns.append((f"validate_{loop}", form._temporary_tracker(tracker, candidate, domain)))
    return turns


def test_every_form_turn_of_the_stories_validates_as_the_action_server_does(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, stories = domain_and_stories
    names: set[str] = set()
    said = checked = 0
    for events in stories:
        for name, tracker in form_turns(domain, events):
            here = run_here(name, tracker, domain)
            there = asyncio.run(from_action_server(name, copy.deepcopy(tracker), domain))
            assert here == there, (name, tracker.latest_message.text)
            assert [type(e) for e in here] == [type(e) for e in there]
            names.add(name)
            checked += 1
            said += any(isinstance(e, BotUttered) for e in here)
    assert names == local_validation.local_names()
    assert checked > 300 and said > 20  # nudges and reflections were compared too


def test_a_form_validates_without_reaching_the_action_server(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, _ = domain_and_stories
    events = [
        ActiveLoop("referral_form"),
        SlotSet("consent", True),
        SlotSet("requested_slot", "age"),
        UserUttered("im 14", {"name": "inform", "confidence": 0.9}),
    ]
    tracker = DialogueStateTracker.from_events("c1", events, slots=domain.slots)
    found = asyncio.run(
        FormAction("referral_form", ENDPOINT).validate_slots(
            {"age": "im 14"},
            tracker,
            domain,
            CollectingOutputChannel(),
            TemplatedNaturalLanguageGenerator({}),
        )
    )
    assert SlotSet("age", 14) in found and SlotSet("age_band", "13_15") in found
    assert SlotSet("requested_slot", "preferred_name") in found


def test_other_validation_actions_still_go_to_the_action_server() -> None:
    action = rasa_forms.RemoteAction("validate_some_other_form", ENDPOINT)
    assert type(action) is RemoteAction
    assert local_validation.local_names() == {
        "validate_referral_form",
        "validate_safety_form",
        "validate_delete_form",
    }


def age_turn(domain: Domain) -> DialogueStateTracker:
    events = [
        ActiveLoop("referral_form"),
        SlotSet("consent", True),
        SlotSet("requested_slot", "age"),
        UserUttered("15", {"name": "inform", "confidence": 0.9}),
        SlotSet("age", "15"),
    ]
    return DialogueStateTracker.from_events("c1", events, slots=domain.slots)


def test_a_validator_that_fails_fails_as_an_action_server_error_does(
    domain_and_stories: tuple[Domain, list[list[Event]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    domain, _ = domain_and_stories

    def broken(*_: Any) -> dict[str, Any]:
        raise ValueError("broken validator")

    monkeypatch.setattr(action_forms.ValidateReferralForm, "validate_age", broken)
    with pytest.raises(RasaException, match="validate_referral_form"):
        run_here("validate_referral_form", age_turn(domain), domain)


def test_a_rejection_is_raised_as_rasa_raises_the_action_servers(
    domain_and_stories: tuple[Domain, list[list[Event]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    domain, _ = domain_and_stories

    def rejecting(*_: Any) -> dict[str, Any]:
        raise SdkRejection("validate_referral_form", "not now")

    monkeypatch.setattr(action_forms.ValidateReferralForm, "validate_age", rejecting)
    with pytest.raises(ActionExecutionRejection) as raised:
        run_here("validate_referral_form", age_turn(domain), domain)
    assert raised.value.action_name == "validate_referral_form"


def test_the_domain_is_sent_as_json_and_worked_out_once(
    domain_and_stories: tuple[Domain, list[list[Event]]],
) -> None:
    domain, _ = domain_and_stories
    first = local_validation.domain_dict(domain)
    assert first == json.loads(json.dumps(domain.as_dict()))
    assert local_validation.domain_dict(domain) is first
    other = Domain.from_dict(domain.as_dict())
    assert local_validation.domain_dict(other) is not first
