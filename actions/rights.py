"""The young person's rights in the chat: PRIVACY and "what do you know about me?".

DELETE is `action_delete_data` (actions/routing.py): rules pick its reply from the outcome.
"""

from __future__ import annotations

import logging
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.conversation import draft_from
from actions.privacy_notice import load_notice
from actions.settings import current
from youthlink.errors import ConfigurationError

logger = logging.getLogger(__name__)


class ActionPrivacyNotice(Action):
    """PRIVACY: the privacy notice for their age band (it shows its version)."""

    def __init__(self) -> None:
        # Read once, when the action server starts; a broken notice file is reported then.
        try:
            load_notice()
        except (OSError, ValueError, KeyError, yaml.YAMLError):
            logger.exception("the privacy notice could not be read")

    def name(self) -> str:
        return "action_privacy_notice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text=load_notice().text_for(tracker.get_slot("age_band")))
        return []


class ActionWhatWeHold(Action):
    """Answers "what do you know about me?": what is held, and how to ask for all of it."""

    def __init__(self) -> None:
        # The action server makes its actions when it starts: read the settings (among them
        # YOUTHLINK_DATA_REQUESTS_CONTACT) then. If they are broken, say so now; the first
        # use tries again.
        try:
            current()
        except ConfigurationError as exc:
            logger.error("action server settings not read at start: %s", exc)

    def name(self) -> str:
        return "action_what_we_hold"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        summary = texts.what_we_hold(
            draft_from(tracker),
            sent=tracker.get_slot("stage") == "sent",
            data_requests_contact=current().data_requests_contact,
        )
        dispatcher.utter_message(text=summary)
        return []
