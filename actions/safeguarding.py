"""The follow-up to a safeguarding disclosure: the crisis reply and what it is recorded as."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import safeguarding_rules
from actions import answers
from actions.conversation import (
    latest_disclosure,
    latest_text,
    pending_question,
    safeguarding_summary,
)

logger = logging.getLogger(__name__)

KEPT_AS_ANSWER = ("concerns", "interests", "what_matters")
"""Questions answered in their own words: a disclosure given there is also kept as the answer
(asked again, the same answer would only raise the same disclosure again)."""


FALLBACK_REPLY = (
    "I'm really glad you told me. If you're in danger now, call 999. You can talk to someone "
    "free, any time: Childline 0800 1111 (under 19), Samaritans 116 123, or text SHOUT to 85258."
)
"""Sent if the rules' own reply cannot be made: a crisis reply must never fail."""


def crisis_reply(text: str, age_band: str | None) -> str:
    """The rules' crisis reply for this message, worded for the age band."""
    try:
        verdict = safeguarding_rules.screen(text)
        return safeguarding_rules.crisis_reply(verdict, age_band or "unknown")
    except Exception:
        logger.exception("crisis reply from the rules failed; sent the fallback")
        return FALLBACK_REPLY


class ActionSafeguardingReply(Action):
    """Crisis reply (unless the gateway already sent one), and the disclosure on the record."""

    def __init__(self) -> None:
        # The action server makes its actions when it starts: load the rules and replies then
        # (most of a second), not while the first young person to disclose waits for the reply.
        try:
            safeguarding_rules.load_ruleset()
            safeguarding_rules.load_replies()
        except safeguarding_rules.SafeguardingRulesError:
            logger.exception("safeguarding rules could not be loaded; crisis replies fall back")

    def name(self) -> str:
        return "action_safeguarding_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        text = latest_text(tracker)
        disclosure = latest_disclosure(tracker)
        if disclosure is None or not disclosure.gateway_replied:
            dispatcher.utter_message(text=crisis_reply(text, tracker.get_slot("age_band")))
        summary = safeguarding_summary(tracker)
        if disclosure is not None:
            summary = summary.add(
                disclosure.severity, disclosure.categories, disclosure.escalation_id
            )
        logger.info(
            "disclosure handled: severity=%d categories=%s gateway_replied=%s",
            summary.highest_severity,
            ",".join(summary.categories),
            bool(disclosure and disclosure.gateway_replied),
        )
        pending = pending_question(tracker)
        # Told in answer to "are you safe right now?" (or "keep going?"), it is not a yes: the
        # check goes on from "if you're not safe...", not from the same question again.
        in_check = pending in ("safe_now", "keep_going")
        events = [
            SlotSet("sg_severity", summary.highest_severity),
            SlotSet("sg_categories", list(summary.categories)),
            SlotSet("sg_escalation_ids", list(summary.escalation_ids)),
            SlotSet("safe_now", False if in_check else None),
            SlotSet("keep_going", None),
        ]
        if pending in KEPT_AS_ANSWER and not tracker.get_slot(pending):
            events.append(SlotSet(pending, text))
        elif pending is not None and tracker.get_slot(pending) is None:
            # "Bradford, but i dont want to go home tonight...": the question is still answered,
            # so it is not asked again after the safety check (and told again, and again).
            events += [SlotSet(k, v) for k, v in answers.answer_within(pending, text).items()]
        return events
