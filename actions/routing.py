"""Actions that decide where the conversation goes next; rules pick the reply from the slots set."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import AllSlotsReset, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts, tracker_erasure
from actions.conversation import REFERRAL_SLOTS, clear, draft_from, latest_text, pending_question
from actions.handoff import HandoffClient, HandoffError
from actions.referral import Draft, InvalidReferral
from actions.settings import current
from actions.submission import new_referral_id, send_referral

logger = logging.getLogger(__name__)

Events = list[dict[str, Any]]
FREE_TEXT = ("concerns", "interests", "what_matters")


def _in_progress(tracker: Tracker) -> bool:
    return tracker.get_slot("stage") == "in_progress"


class ActionRoute(Action):
    """Start or resume the referral, unless it was already sent."""

    def name(self) -> str:
        return "action_route"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        return [SlotSet("resume_referral", tracker.get_slot("stage") != "sent")]


class ActionFinishReferral(Action):
    """The referral form is done: send it, or end kindly when there is nothing to send."""

    def name(self) -> str:
        return "action_finish_referral"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        slot = tracker.get_slot
        if slot("consent") is False:
            return [*clear(REFERRAL_SLOTS), SlotSet("outcome", "declined")]
        if slot("age_band") == "under_11":
            return [*clear(REFERRAL_SLOTS), SlotSet("outcome", "too_young")]
        if slot("age_band") == "over_25":
            return [*clear(REFERRAL_SLOTS), SlotSet("outcome", "too_old")]
        if slot("confirm") is not True:
            return [SlotSet("confirm", None), SlotSet("outcome", "not_sent")]
        referral_uuid = slot("referral_uuid") or new_referral_id()
        try:
            referral_id = await send_referral(
                draft_from(tracker), referral_uuid, completed=True, settings=current()
            )
        except (HandoffError, InvalidReferral) as exc:
            logger.error("referral not sent: %s", exc)
            return [
                SlotSet("referral_uuid", referral_uuid),
                SlotSet("confirm", None),
                SlotSet("outcome", "send_failed"),
            ]
        return [
            SlotSet("referral_uuid", referral_uuid),
            SlotSet("referral_id", referral_id),
            SlotSet("stage", "sent"),
            SlotSet("outcome", "sent"),
        ]


async def _send_so_far(
    tracker: Tracker, draft: Draft, completed: bool, what: str
) -> tuple[bool, Events]:
    """Send what is known so far under the conversation's referral id; whether it was sent, and
    the slots that keep the id (the same id is used on any later attempt)."""
    referral_uuid = tracker.get_slot("referral_uuid") or new_referral_id()
    try:
        referral_id = await send_referral(
            draft, referral_uuid, completed=completed, settings=current()
        )
    except (HandoffError, InvalidReferral) as exc:
        logger.error("%s not sent: %s", what, exc)
        return False, [SlotSet("referral_uuid", referral_uuid)]
    return True, [SlotSet("referral_uuid", referral_uuid), SlotSet("referral_id", referral_id)]


class ActionHumanHandoff(Action):
    """Asked for a person: send what is known so far, flagged, as a priority referral."""

    def name(self) -> str:
        return "action_human_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        draft = draft_from(tracker, asked_for_person=True)
        completed = tracker.get_slot("stage") == "sent"
        sent, events = await _send_so_far(tracker, draft, completed, "request for a person")
        if not sent:
            dispatcher.utter_message(text=texts.PERSON_FAILED)
            return events
        early = tracker.get_slot("consent") is not True and not completed
        dispatcher.utter_message(
            text=texts.PERSON_REQUESTED_EARLY if early else texts.PERSON_REQUESTED
        )
        return [*events, SlotSet("asked_for_person", True), *_kept_as_answer(tracker)]


def _kept_as_answer(tracker: Tracker) -> Events:
    """The request as the answer to an open question it also answers: "someone to talk to" is
    what matters to them; and once they have asked, the same words again are their answer,
    not a question asked again and again."""
    pending = pending_question(tracker)
    if pending not in FREE_TEXT or tracker.get_slot(pending):
        return []
    if pending == "what_matters" or tracker.get_slot("asked_for_person") is True:
        return [SlotSet(pending, latest_text(tracker))]
    return []


class ActionAfterSafetyCheck(Action):
    """After "are you safe?" and "keep going?": resume the referral or stop here."""

    def name(self) -> str:
        return "action_after_safety_check"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        resume = tracker.get_slot("keep_going") is True and tracker.get_slot("stage") != "sent"
        events: Events = [SlotSet("resume_referral", resume)]
        if resume or tracker.get_slot("consent") is not True or tracker.get_slot("stage") == "sent":
            return events
        # They would rather stop here: what they told us goes to the team with the escalation
        # (their age above all), as an unfinished referral they can finish later.
        _, sent_events = await _send_so_far(
            tracker, draft_from(tracker), False, "unfinished referral after the safety check"
        )
        return [*events, *sent_events]


class ActionDeleteData(Action):
    """DELETE confirmed: withdraw the referral and blank the messages (handoff API), erase the
    tracker events (tracker store), forget every slot.

    The handoff API goes first: it holds what link workers see, and it can be asked again
    (nothing there counts as done). Any failure is told as it is, so they can text DELETE again.
    Safeguarding records are not touched.
    """

    def name(self) -> str:
        return "action_delete_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        if tracker.get_slot("delete_confirm") is not True:
            outcome = "kept_resume" if _in_progress(tracker) else "kept"
            return [SlotSet("delete_confirm", None), SlotSet("outcome", outcome)]
        failed = [SlotSet("delete_confirm", None), SlotSet("outcome", "delete_failed")]
        settings = current()
        try:
            await HandoffClient.from_settings(settings).delete_draft(tracker.sender_id)
        except HandoffError as exc:
            logger.error("draft not deleted: %s", exc)
            return failed
        try:
            erased = await tracker_erasure.current().erase(tracker.sender_id)
        except Exception as exc:  # any failure: say so honestly rather than claim it is gone
            logger.error("tracker events not erased: %s", type(exc).__name__)
            return failed
        logger.info("conversation deleted: %d tracker events erased", erased)
        return [AllSlotsReset(), SlotSet("outcome", "deleted")]


class ActionStartOver(Action):
    """Start again: forget the answers (safeguarding records stay), back to the first question."""

    def name(self) -> str:
        return "action_start_over"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        return clear(REFERRAL_SLOTS)
