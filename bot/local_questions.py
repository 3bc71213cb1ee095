"""Asks the forms' questions inside the Rasa server instead of calling the action server for them.

A form turn made two calls to the action server: `validate_<form>` to check the answer, then
`action_ask_<slot>` to ask the next question. The second only picks a wording from
`actions/questions.yml` by slot values (the age band, say), yet each call sends the whole tracker
as JSON and has the action server parse it back: about a sixth of the CPU a message costs across
the stack. Installed by `bot.speedups`, this answers `action_ask_<slot>` for every slot in
`questions.yml` here, with the same `QuestionBook` and the same `CollectingDispatcher` the action
server uses, and turns the result into bot messages with Rasa's own code for action-server
responses, so the messages are the ones the action server would have sent (a test compares both
for every wording). `action_ask_confirm`, the summary of the referral, still goes to the action
server, as do the validations and every other custom action.

Domain responses with conditional variations would also avoid the call, but Rasa 3.6's
`rasa data validate --fail-on-warnings` rejects `utter_ask_*` responses that only a form utters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rasa.core.actions import action as rasa_actions
from rasa.core.actions.action import Action, RemoteAction
from rasa_sdk.executor import CollectingDispatcher

from actions.questions import load_book

if TYPE_CHECKING:
    from rasa.core.channels.channel import OutputChannel
    from rasa.core.nlg import NaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

PREFIX = "action_ask_"
_original_action_for_name_or_text = rasa_actions.action_for_name_or_text


class LocalQuestion(Action):
    """`action_ask_<slot>`, rendered from `actions/questions.yml` in the Rasa process."""

    def __init__(self, slot: str) -> None:
        self.slot = slot

    def name(self) -> str:
        return PREFIX + self.slot

    async def run(
        self,
        output_channel: OutputChannel,
        nlg: NaturalLanguageGenerator,
        tracker: DialogueStateTracker,
        domain: Domain,
    ) -> list[Event]:
        question = load_book().question(self.slot, tracker.current_slot_values())
        dispatcher = CollectingDispatcher()
        dispatcher.utter_message(**question.as_message())
        messages = await RemoteAction._utter_responses(
            dispatcher.messages, output_channel, nlg, tracker
        )
        return list(messages)


def local_slot(name: str, domain: Domain) -> str | None:
    """The slot whose question this action asks, if it can be asked here."""
    if not name.startswith(PREFIX) or name not in domain.user_actions:
        return None
    slot = name[len(PREFIX) :]
    return slot if slot in load_book().asking else None


def action_for_name_or_text(
    action_name_or_text: str, domain: Domain, action_endpoint: EndpointConfig | None
) -> Any:
    """Rasa's action lookup, with the questions answered here."""
    slot = local_slot(action_name_or_text, domain)
    if slot is not None:
        return LocalQuestion(slot)
    return _original_action_for_name_or_text(action_name_or_text, domain, action_endpoint)


def install() -> None:
    """Make Rasa ask the questions itself."""
    rasa_actions.action_for_name_or_text = action_for_name_or_text
