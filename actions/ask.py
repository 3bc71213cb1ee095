"""The questions, asked by the forms: `action_ask_<slot>` for each slot in questions.yml.

The Rasa server asks all but `action_ask_confirm` itself with the same code
(`bot/local_questions.py`); these answer when it runs without that patch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.conversation import draft_from
from actions.questions import load_book


class AskQuestion(Action, ABC):
    """Asks the question for one slot, worded for what the conversation holds (e.g. age band)."""

    slot = ""

    @abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(**load_book().question(self.slot, tracker.slots).as_message())
        return []


def _ask(slot: str) -> type[AskQuestion]:
    name = "Ask" + "".join(part.title() for part in slot.split("_"))

    def action_name(self: AskQuestion) -> str:
        return f"action_ask_{slot}"

    return type(
        name, (AskQuestion,), {"slot": slot, "name": action_name, "__doc__": f"Asks for {slot}."}
    )


AskConsent = _ask("consent")
AskAge = _ask("age")
AskPreferredName = _ask("preferred_name")
AskPronouns = _ask("pronouns")
AskConcerns = _ask("concerns")
AskInterests = _ask("interests")
AskWhatMatters = _ask("what_matters")
AskArea = _ask("area")
AskContactOk = _ask("contact_ok")
AskContactOther = _ask("contact_other")
AskBestTimes = _ask("best_times")
AskChangeWhich = _ask("change_which")
AskSafeNow = _ask("safe_now")
AskKeepGoing = _ask("keep_going")
AskDeleteConfirm = _ask("delete_confirm")


class AskConfirm(Action):
    """Shows exactly what will be sent, then asks to send it or change something."""

    def name(self) -> str:
        return "action_ask_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(
            text=texts.summary(draft_from(tracker)),
            buttons=[
                {"title": "Yes, send it", "payload": "/affirm"},
                {"title": "Change something", "payload": "/change"},
            ],
            json_message={"asking": "confirm"},
        )
        return []
