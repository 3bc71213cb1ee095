"""Form validation: which questions to ask, and reading each answer (thin over actions.answers)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import answers, texts
from actions.categories import load_tables
from actions.conversation import latest_intent, latest_text, said_again
from actions.referral import utc_now

SKIPPED = ""
"""The value of an optional question that was skipped: answered, nothing to pass on."""

Result = dict[str, Any]

SOFT_INTERRUPTIONS = frozenset(
    {"out_of_scope", "ask_about_service", "nonsense", "bot_challenge", "privacy", "ask_my_data"}
)
"""Interruptions that give way when the same answer is sent again: never a dead end.

("i'm scared my mum will find out" may be read as a question about privacy: the notice is
shown, and the same words sent again are the answer.)
"""
KEYWORD_COMMANDS = frozenset({"privacy"})
"""Of those, the ones with a keyword ("PRIVACY"): the keyword sent again is asking again."""

FREE_TEXT = frozenset(
    ["preferred_name", "pronouns", "concerns", "interests", "what_matters", "area", "best_times"]
)
"""Questions answered in their own words, each of which can be skipped."""


# Which slots a "change" clears, by the part of the summary named.
PART_SLOTS = {
    "preferred_name": ("preferred_name",),
    "pronouns": ("pronouns",),
    "age": ("age", "age_band"),
    "concerns": ("concerns",),
    "interests": ("interests",),
    "what_matters": ("what_matters",),
    "area": ("area",),
    "contact": ("contact_ok", "contact_other", "best_times"),
    "best_times": ("best_times",),
}


def referral_questions(slots: dict[str, Any]) -> list[str]:
    """The referral form's questions, in order, for what has been answered so far."""
    questions = ["consent"]
    if slots.get("consent") is not True:
        return questions
    questions.append("age")
    if slots.get("age_band") in (None, "under_11", "over_25"):
        return questions
    # Pronouns hold "" unless offered; None (asked) only once they raise pronouns without them.
    questions += [
        "preferred_name", "pronouns", "concerns", "interests", "what_matters", "area", "contact_ok",
    ]  # fmt: skip
    if slots.get("contact_ok") is False:
        questions.append("contact_other")
    if slots.get("contact_ok") is True or slots.get("contact_other") == "phone_call":
        questions.append("best_times")
    if slots.get("change_requested"):
        questions.append("change_which")
    questions.append("confirm")
    return questions


def _gives_way(tracker: Tracker) -> bool:
    """True when the latest intent is a soft interruption that was not a keyword."""
    intent = tracker.latest_message.get("intent") or {}
    if intent.get("name") not in SOFT_INTERRUPTIONS:
        return False
    # Keywords are set with confidence 1.0, without guessing (bot/keywords.py).
    return intent.get("name") not in KEYWORD_COMMANDS or float(intent.get("confidence") or 0) < 1


def _guessed_help(tracker: Tracker, requested: str) -> bool:
    """True when the classifier (not the HELP keyword) read an answer in their own words as a
    request for help: the help numbers go out each time, and the same words sent again after
    them are the answer ("horses, i help out at the stables on sundays")."""
    intent = tracker.latest_message.get("intent") or {}
    return (
        requested in FREE_TEXT
        and intent.get("name") == "get_help"
        and float(intent.get("confidence") or 0) < 1
    )


def is_new_answer(tracker: Tracker, slot: str, value: Any) -> bool:
    """True when the value is what the young person just said to this question.

    Validators also run again on answers given earlier (when a form is resumed); anything they
    say to the young person should only be said once.
    """
    return tracker.get_slot("requested_slot") == slot and latest_text(tracker) == value


def nonsense_in_a_row(tracker: Tracker, slot: str) -> int:
    """How many messages in a row, up to the latest, were not understood while `slot` was
    being asked."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent != "nonsense":
                break
            count += 1
        elif event.get("event") == "bot":
            custom = (event.get("data") or {}).get("custom") or {}
            if custom.get("asking") not in (None, slot):
                break
    return count


def _changed_value(dispatcher: CollectingDispatcher, text: str, part: str | None) -> str | None:
    """The new name or area given with a request to change it ("change my name to Jess"),
    said back as changed; None when the request gave none."""
    new_value = answers.read_new_value(text, part) if part else None
    if new_value is not None:
        dispatcher.utter_message(text=texts.CHANGED)
    return new_value


def _said_by_bot(tracker: Tracker, text: str) -> bool:
    """True when the bot has already sent this exact text in the conversation."""
    return any(e.get("event") == "bot" and e.get("text") == text for e in tracker.events)


class _Validation(FormValidationAction):
    """Shared behaviour: the form always says which question comes next."""

    @abstractmethod
    def name(self) -> str: ...

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        missing = next((s for s in required if tracker.slots.get(s) is None), None)
        return SlotSet("requested_slot", missing)


class ValidateReferralForm(_Validation):
    """Reads each answer of the referral; asks again (with a gentle word) when unclear."""

    def name(self) -> str:
        return "validate_referral_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return referral_questions(tracker.slots)

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Pronouns whenever offered; an answer sent twice counts even if it looked off-topic."""
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        text = latest_text(tracker)
        requested = tracker.get_slot("requested_slot")
        if (
            requested
            and tracker.get_slot(requested) is None
            and (_gives_way(tracker) or _guessed_help(tracker, requested))
            and said_again(tracker)
        ):
            events.append(SlotSet(requested, text))
        if (
            requested in FREE_TEXT
            and tracker.get_slot(requested) is None
            and latest_intent(tracker) == "nonsense"
            and nonsense_in_a_row(tracker, requested) >= 2
        ):
            # "?" twice, or keyboard mash again: a question they can skip is not asked a third
            # time (the rule has already said it did not understand).
            dispatcher.utter_message(text=texts.LEFT_FOR_NOW)
            events.append(SlotSet(requested, SKIPPED))
        pronouns = answers.find_pronouns(text)
        if pronouns and tracker.get_slot("pronouns") != pronouns:
            events.append(SlotSet("pronouns", pronouns))
        elif answers.mentions_pronouns(text) and tracker.get_slot("pronouns") == SKIPPED:
            events.append(SlotSet("pronouns", None))  # raised later: ask about them next
        return events

    def _answer(self, slot: str, value: Any, tracker: Tracker) -> str | None:
        """The text answer, or None when they just sent a greeting or thanks on its own."""
        if not isinstance(value, str):
            return None
        if (
            is_new_answer(tracker, slot, value)
            and answers.is_filler(value, latest_intent(tracker))
            and not (slot == "best_times" and answers.TIME_WORDS.search(value))
        ):
            return None
        return value

    def validate_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if isinstance(value, bool):
            return {"consent": value}
        answer = answers.yes_no(str(value), latest_intent(tracker))
        if answer is None:
            dispatcher.utter_message(text=texts.NUDGE_YES_NO)
            return {"consent": None}
        if answer:
            return {"consent": True, "consent_given_at": utc_now(), "stage": "in_progress"}
        return {"consent": False}

    def validate_age(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        age = value if isinstance(value, int) else answers.parse_age(str(value))
        years = None if age is not None else answers.school_year_ages(str(value))
        if years is not None:
            question = texts.school_year_ages(*years)
            if not _said_by_bot(tracker, question):
                dispatcher.utter_message(text=question)
                return {"age": None}
            age = years[0]  # the school year again: the younger of its two ages
        if age is None:
            dispatcher.utter_message(text=texts.NUDGE_AGE)
            return {"age": None}
        if not 5 <= age <= 120:
            dispatcher.utter_message(text=texts.NUDGE_AGE_CHECK)
            return {"age": None}
        return {"age": age, "age_band": answers.age_band(age)}

    def validate_preferred_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if value == SKIPPED:  # skipped earlier: validated again when a form resumes
            return {"preferred_name": SKIPPED}
        text = self._answer("preferred_name", value, tracker)
        if text is None:
            return {"preferred_name": None}
        if answers.is_skip(text, latest_intent(tracker)):
            return {"preferred_name": SKIPPED, "pronouns": tracker.get_slot("pronouns") or SKIPPED}
        read = answers.read_name(text)
        result: Result = {"preferred_name": read.name}
        if read.pronouns:
            result["pronouns"] = read.pronouns
        elif answers.mentions_pronouns(text):
            result["pronouns"] = None  # they raised pronouns: ask about them
        elif tracker.get_slot("pronouns") is None:
            result["pronouns"] = SKIPPED
        if read.name is None and _said_by_bot(tracker, texts.NUDGE_NAME):
            # Optional, like the area: a second answer we cannot read moves on, not round again.
            dispatcher.utter_message(text=texts.NAME_LEFT_OUT)
            result["preferred_name"] = SKIPPED
        elif read.name is None:
            if read.pronouns:
                dispatcher.utter_message(text=texts.PRONOUNS_NOTED)
            dispatcher.utter_message(text=texts.NUDGE_NAME)
        return result

    def validate_pronouns(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if value == SKIPPED:
            return {"pronouns": SKIPPED}  # skipped earlier: validated again on resuming
        text = self._answer("pronouns", value, tracker)
        if text is None:
            return {"pronouns": None}
        pronouns = answers.find_pronouns(text)
        if pronouns:
            return {"pronouns": pronouns}
        if answers.is_skip(text, latest_intent(tracker)) or answers.yes_no(text) is False:
            return {"pronouns": SKIPPED}
        return {"pronouns": text.strip()[:40]}

    def _own_words(
        self, slot: str, value: Any, tracker: Tracker, dispatcher: CollectingDispatcher
    ) -> Result:
        text = self._answer(slot, value, tracker)
        if text is None:
            return {slot: None}
        if answers.is_skip(text, latest_intent(tracker)):
            return {slot: SKIPPED}
        if answers.find_pronouns(text) and answers.read_name(text).name is None:
            # Only pronouns were given: noted elsewhere, the question is still open.
            dispatcher.utter_message(text=texts.PRONOUNS_NOTED)
            return {slot: None}
        return {slot: text}

    def validate_concerns(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        result = self._own_words("concerns", value, tracker, dispatcher)
        text = result["concerns"]
        if text and is_new_answer(tracker, "concerns", text):
            table = load_tables()["concerns"]
            name = tracker.get_slot("preferred_name") or None
            dispatcher.utter_message(text=texts.reflection(table.say(table.match(text)), name))
        return result

    def validate_interests(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        return self._own_words("interests", value, tracker, dispatcher)

    def validate_what_matters(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        result = self._own_words("what_matters", value, tracker, dispatcher)
        if result["what_matters"]:
            result["what_matters"] = result["what_matters"][:2000]
        return result

    def validate_area(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if value == SKIPPED:
            return {"area": SKIPPED}  # skipped earlier: validated again on resuming
        text = self._answer("area", value, tracker)
        if text is None:
            return {"area": None}
        if answers.is_skip(text, latest_intent(tracker)):
            return {"area": SKIPPED}
        read = answers.read_area(text)
        if read.area is None and (
            _said_by_bot(tracker, texts.NUDGE_AREA) or _said_by_bot(tracker, texts.NUDGE_ADDRESS)
        ):
            # The question is optional: a second answer we cannot read moves on, not round again.
            dispatcher.utter_message(text=texts.AREA_LEFT_OUT)
            return {"area": SKIPPED}
        if read.area is None:
            dispatcher.utter_message(text=texts.NUDGE_ADDRESS if read.trimmed else texts.NUDGE_AREA)
        elif read.trimmed and is_new_answer(tracker, "area", text):
            dispatcher.utter_message(text=texts.area_kept(read.area))
        return {"area": read.area}

    def validate_contact_ok(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if isinstance(value, bool):
            return {"contact_ok": value}
        answer = answers.read_contact_ok(str(value), latest_intent(tracker))
        if answer is None:
            dispatcher.utter_message(text=texts.NUDGE_YES_NO)
        return {"contact_ok": answer}

    def validate_contact_other(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        entity = next(tracker.get_latest_entity_values("contact_method"), None)
        choice = answers.read_contact_other(str(value), entity)
        if choice is None:
            dispatcher.utter_message(text=texts.NUDGE_CONTACT_OTHER)
            return {"contact_other": None}
        result: Result = {"contact_other": choice}
        if choice == "none":
            result["best_times"] = SKIPPED
        return result

    def validate_best_times(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        result = self._own_words("best_times", value, tracker, dispatcher)
        if result["best_times"]:
            result["best_times"] = result["best_times"][:200]
        return result

    def validate_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if isinstance(value, bool):
            return {"confirm": value}
        intent = latest_intent(tracker)
        part = answers.read_part(str(value))
        wants_change = intent == "change" or part not in (None, "none")
        new_value = _changed_value(dispatcher, str(value), part)
        if part is not None and new_value is not None:
            return {"confirm": None, part: new_value}  # then the summary again, changed
        answer = None if wants_change else answers.yes_no(str(value), intent)
        if answer is True:
            return {"confirm": True}
        if answer is False or wants_change:
            return {"confirm": None, "change_requested": True}
        dispatcher.utter_message(text=texts.NUDGE_CONFIRM)
        return {"confirm": None}

    def validate_change_which(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        entity = next(tracker.get_latest_entity_values("part"), None)
        part = answers.read_part(str(value), entity)
        if part is None or (part not in PART_SLOTS and part not in ("none", "cancel")):
            dispatcher.utter_message(text=texts.NUDGE_PART)
            return {"change_which": None}
        result: Result = {"change_which": None, "change_requested": False}
        if part == "cancel":
            result["confirm"] = False
        for slot in PART_SLOTS.get(part, ()):
            result[slot] = None
        new_value = _changed_value(dispatcher, str(value), part)
        if new_value is not None:  # "name, Jay": the new value came with it
            result[part] = new_value
        return result


class ValidateSafetyForm(_Validation):
    """Are you safe right now? Then: keep going with the referral (unless it was sent)?"""

    def name(self) -> str:
        return "validate_safety_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("stage") == "sent":
            return ["safe_now"]
        return ["safe_now", "keep_going"]

    def validate_safe_now(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if isinstance(value, bool):
            return {"safe_now": value}
        answer = answers.yes_no(str(value), latest_intent(tracker))
        # Anything but a clear yes or no is kept as "not said": the next message gives numbers.
        return {"safe_now": SKIPPED if answer is None else answer}

    def validate_keep_going(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if isinstance(value, bool):
            return {"keep_going": value}
        if str(value).strip().lower() == "skip" or str(value) == "/skip":
            return {"keep_going": True}  # skip the safety questions, get on with the referral
        answer = answers.yes_no(str(value), latest_intent(tracker))
        if answer is None:
            dispatcher.utter_message(text=texts.NUDGE_YES_NO)
        return {"keep_going": answer}


class ValidateDeleteForm(_Validation):
    """Confirm before deleting: "delete" itself counts as a yes."""

    def name(self) -> str:
        return "validate_delete_form"

    def validate_delete_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Result:
        if isinstance(value, bool):
            return {"delete_confirm": value}
        intent = latest_intent(tracker)
        answer = True if intent == "delete_data" else answers.yes_no(str(value), intent)
        if answer is None:
            dispatcher.utter_message(text=texts.DELETE_NUDGE)
        return {"delete_confirm": answer}
