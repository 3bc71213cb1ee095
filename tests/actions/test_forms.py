"""Form validation actions run on trackers built from JSON, as the Rasa server calls them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import texts
from actions.forms import (
    SKIPPED,
    ValidateDeleteForm,
    ValidateReferralForm,
    ValidateSafetyForm,
    referral_questions,
)
from tests.actions.support import texts_of, tracker_from_json, user_said

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "bot" / "domain"
DOMAIN = {
    **yaml.safe_load((DOMAIN_DIR / "forms.yml").read_text(encoding="utf-8")),
    **yaml.safe_load((DOMAIN_DIR / "slots.yml").read_text(encoding="utf-8")),
}
ANSWERED = {
    "consent": True, "stage": "in_progress", "age": 14, "age_band": "13_15",
    "preferred_name": "Jay", "pronouns": "", "concerns": "exams", "interests": "football",
    "what_matters": "", "area": "LS7", "contact_ok": True, "best_times": "",
}  # fmt: skip


async def answer(
    text: str,
    asked: str,
    *,
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    action: Any = None,
    previous: str | None = None,
    bot_said: tuple[str, ...] = (),
    **message: Any,
) -> tuple[dict[str, Any], list[str]]:
    """Answer the question for `asked` with `text`; the slot events and what the bot said."""
    events: list[dict[str, Any]] = [{"event": "slot", "name": "requested_slot", "value": asked}]
    events += [{"event": "bot", "text": said} for said in bot_said]
    if previous is not None:
        events.append({"event": "user", "text": previous})
    events.append({"event": "user", "text": text})
    candidate = {} if intent in ("out_of_scope", "nonsense") else {asked: text}
    events += [{"event": "slot", "name": k, "value": v} for k, v in candidate.items()]
    tracker = tracker_from_json(
        "new_conversation",
        slots={**(slots or {}), **candidate, "requested_slot": asked},
        latest_message=user_said(text, intent, **message),
        events=events,
    )
    dispatcher = CollectingDispatcher()
    result = await (action or ValidateReferralForm()).run(dispatcher, tracker, DOMAIN)
    return {e["name"]: e["value"] for e in result if e["event"] == "slot"}, texts_of(
        dispatcher.messages
    )


def test_questions_in_order_for_what_is_answered() -> None:
    assert referral_questions({}) == ["consent"]
    assert referral_questions({"consent": False}) == ["consent"]
    assert referral_questions({"consent": True, "age_band": "under_11"}) == ["consent", "age"]
    assert referral_questions(ANSWERED) == [
        "consent", "age", "preferred_name", "pronouns", "concerns", "interests", "what_matters",
        "area", "contact_ok", "best_times", "confirm",
    ]  # fmt: skip
    changing = {**ANSWERED, "contact_ok": False, "contact_other": "none", "change_requested": True}
    questions = referral_questions(changing)
    assert "contact_other" in questions and "best_times" not in questions
    assert questions[-2:] == ["change_which", "confirm"]


async def test_consent_yes_records_when_and_asks_the_age() -> None:
    slots, said = await answer("yeah ok", "consent", intent="affirm")
    assert slots["consent"] is True and slots["stage"] == "in_progress"
    assert slots["consent_given_at"].endswith("Z")
    assert slots["requested_slot"] == "age" and said == []


async def test_an_unclear_consent_is_asked_again_gently() -> None:
    slots, said = await answer("what is this", "consent", intent="nlu_fallback")
    assert slots["consent"] is None and slots["requested_slot"] == "consent"
    assert said and "yes or a no" in said[0]


async def test_under_11_ends_the_questions() -> None:
    slots, _ = await answer("im 9", "age", slots={"consent": True})
    assert (slots["age"], slots["age_band"], slots["requested_slot"]) == (9, "under_11", None)


async def test_name_with_pronouns_takes_both_and_asks_no_pronoun_question() -> None:
    slots, _ = await answer("Sam, they/them", "preferred_name", slots={"consent": True, "age": 18,
                            "age_band": "18_25"})  # fmt: skip
    assert (slots["preferred_name"], slots["pronouns"]) == ("Sam", "they/them")
    assert slots["requested_slot"] == "concerns"


async def test_skipping_the_name_asks_no_pronoun_question() -> None:
    slots, _ = await answer("skip", "preferred_name", intent="skip",
                            slots={"consent": True, "age": 16, "age_band": "16_17"})  # fmt: skip
    assert (slots["preferred_name"], slots["pronouns"]) == ("", "")
    assert slots["requested_slot"] == "concerns"


async def test_raising_pronouns_asks_about_them_next() -> None:
    slots, _ = await answer("Sam, can i tell you my pronouns", "preferred_name",
                            slots={"consent": True, "age": 18, "age_band": "18_25"})  # fmt: skip
    assert slots["preferred_name"] == "Sam" and slots["pronouns"] is None
    assert slots["requested_slot"] == "pronouns"


async def test_what_is_going_on_is_kept_verbatim_and_reflected_back() -> None:
    text = "my nan died and i feel so low"
    slots, said = await answer(text, "concerns", slots={**ANSWERED, "concerns": None})
    assert slots["concerns"] == text
    assert said == ["Thanks for telling me, Jay. It sounds like things have been hard with "
                    "feeling low and losing someone."]  # fmt: skip
    assert slots["requested_slot"] == "interests" or ANSWERED["interests"]


async def test_a_greeting_is_not_an_answer() -> None:
    slots, _ = await answer(
        "hiya", "concerns", intent="greet", slots={**ANSWERED, "concerns": None}
    )
    assert slots["concerns"] is None and slots["requested_slot"] == "concerns"


async def test_skip_answers_an_optional_question_with_nothing() -> None:
    slots, _ = await answer("skip", "area", intent="skip", slots={**ANSWERED, "area": None})
    assert slots["area"] == ""
    assert slots["requested_slot"] == "confirm"


async def test_a_full_address_keeps_only_the_postcode_district() -> None:
    slots, said = await answer("12 Oak St, Leeds LS7 3AB", "area", slots={**ANSWERED, "area": None})
    assert slots["area"] == "LS7"
    assert said == ["Thanks. I've only kept LS7: we don't need your full address."]


async def test_a_street_without_a_town_is_asked_again() -> None:
    slots, said = await answer("12 oak street", "area", slots={**ANSWERED, "area": None})
    assert slots["area"] is None and slots["requested_slot"] == "area"
    assert "house number" in said[0]


async def test_not_safe_here_asks_another_way_and_none_skips_best_times() -> None:
    base = {**ANSWERED, "contact_ok": None, "best_times": None}
    slots, _ = await answer("no", "contact_ok", intent="deny", slots=base)
    assert slots["contact_ok"] is False and slots["requested_slot"] == "contact_other"
    slots, _ = await answer("no contact", "contact_other", slots={**base, "contact_ok": False})
    assert slots["contact_other"] == "none" and slots["best_times"] == ""
    assert slots["requested_slot"] == "confirm"


async def test_someone_else_reading_the_phone_is_not_safe_even_with_a_yes() -> None:
    base = {**ANSWERED, "contact_ok": None, "best_times": None}
    slots, _ = await answer("yeah but my mum checks my phone", "contact_ok", intent="affirm",
                            slots=base)  # fmt: skip
    assert slots["contact_ok"] is False and slots["requested_slot"] == "contact_other"


async def test_change_asks_which_part_then_that_question_again() -> None:
    slots, _ = await answer("change something", "confirm", intent="change", slots=ANSWERED)
    assert slots["change_requested"] is True and slots["requested_slot"] == "change_which"
    after = {**ANSWERED, "change_requested": True}
    slots, _ = await answer('/inform{"part": "area"}', "change_which", slots=after,
                            entities=[{"entity": "part", "value": "area"}])  # fmt: skip
    assert slots["area"] is None and slots["change_requested"] is False
    assert slots["requested_slot"] == "area"


async def test_yes_at_the_summary_confirms() -> None:
    slots, _ = await answer("yes", "confirm", intent="affirm", slots=ANSWERED)
    assert slots["confirm"] is True and slots["requested_slot"] is None


async def test_an_answer_sent_again_after_out_of_scope_is_taken() -> None:
    text = "finding something to get me out the house"
    base = {**ANSWERED, "what_matters": None}
    slots, _ = await answer(text, "what_matters", intent="out_of_scope", slots=base)
    assert slots.get("what_matters") is None
    slots, _ = await answer(text, "what_matters", intent="out_of_scope", slots=base, previous=text)
    assert slots["what_matters"] == text and slots["requested_slot"] == "confirm"


async def _asked_again(text: str, intent: str, confidence: float) -> dict[str, Any]:
    """The same words sent twice to "what's been going on", read as `intent` both times."""
    events = [
        {"event": "slot", "name": "requested_slot", "value": "concerns"},
        {"event": "user", "text": text},
        {"event": "user", "text": text},
    ]
    said = {**user_said(text, intent), "intent": {"name": intent, "confidence": confidence}}
    tracker = tracker_from_json(
        "new_conversation",
        slots={**ANSWERED, "concerns": None, "requested_slot": "concerns"},
        latest_message=said,
        events=events,
    )
    result = await ValidateReferralForm().run(CollectingDispatcher(), tracker, DOMAIN)
    return {e["name"]: e["value"] for e in result if e["event"] == "slot"}


@pytest.mark.parametrize("intent", ["privacy", "ask_my_data"])
async def test_words_taken_for_a_rights_question_are_the_answer_when_sent_again(
    intent: str,
) -> None:
    slots = await _asked_again("im scared my mum will find out", intent, 0.76)
    assert slots["concerns"] == "im scared my mum will find out"
    assert slots["requested_slot"] == "confirm"  # everything else was answered


async def test_the_privacy_keyword_sent_again_is_never_an_answer() -> None:
    slots = await _asked_again("PRIVACY", "privacy", 1.0)
    assert slots.get("concerns") is None and slots["requested_slot"] == "concerns"


async def test_after_sending_the_safety_check_only_asks_if_they_are_safe() -> None:
    slots, _ = await answer("yes", "safe_now", intent="affirm", slots={"stage": "sent"},
                            action=ValidateSafetyForm())  # fmt: skip
    assert slots["safe_now"] is True and slots["requested_slot"] is None
    slots, _ = await answer("idk", "safe_now", slots={"stage": "in_progress"},
                            action=ValidateSafetyForm())  # fmt: skip
    assert slots["safe_now"] == "" and slots["requested_slot"] == "keep_going"


async def test_skip_at_keep_going_carries_on_with_the_referral() -> None:
    slots, _ = await answer("skip", "keep_going", intent="skip",
                            slots={"stage": "in_progress", "safe_now": ""},
                            action=ValidateSafetyForm())  # fmt: skip
    assert slots["keep_going"] is True and slots["requested_slot"] is None


async def test_delete_said_again_confirms_the_delete() -> None:
    slots, _ = await answer("DELETE", "delete_confirm", intent="delete_data",
                            action=ValidateDeleteForm())  # fmt: skip
    assert slots["delete_confirm"] is True


async def test_answers_given_earlier_survive_a_resume_after_a_greeting() -> None:
    """Resuming after STOP with "hi" validates earlier answers again: they must stay."""
    tracker = tracker_from_json(
        "new_conversation",
        slots={**ANSWERED, "concerns": None, "requested_slot": None},
        latest_message=user_said("hi", "greet"),
        events=[
            {"event": "user", "text": "hi"},
            {"event": "slot", "name": "preferred_name", "value": "Jo"},
            {"event": "slot", "name": "area", "value": "LS7"},
        ],
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateReferralForm().run(dispatcher, tracker, DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert (slots["preferred_name"], slots["area"]) == ("Jo", "LS7")
    assert slots["requested_slot"] == "concerns"
    assert dispatcher.messages == []


async def test_an_area_we_cannot_read_twice_is_left_out_not_asked_again() -> None:
    """The area is optional: "the one near the retail park" once gets a nudge, a second answer
    we cannot read moves on."""
    unanswered = {**ANSWERED, "area": None}
    slots, said = await answer("the one near the retail park lol", "area", slots=unanswered)
    assert slots["area"] is None and said == [texts.NUDGE_AREA]
    slots, said = await answer(
        "the one near the retail park lol", "area", slots=unanswered, bot_said=(texts.NUDGE_AREA,)
    )
    assert slots["area"] == "" and said[0] == texts.AREA_LEFT_OUT
    assert slots["requested_slot"] != "area"


async def test_a_school_year_is_asked_as_an_age_then_taken_as_its_younger_age() -> None:
    slots, said = await answer("im in year 9", "age", slots={"consent": True})
    assert slots["age"] is None and said == [texts.school_year_ages(13, 14)]
    asked = tuple(said)
    slots, _ = await answer("14", "age", slots={"consent": True}, bot_said=asked)
    assert slots["age"] == 14 and slots["age_band"] == "13_15"
    slots, _ = await answer("year 9", "age", slots={"consent": True}, bot_said=asked)
    assert slots["age"] == 13 and slots["age_band"] == "13_15"


@pytest.mark.parametrize("slot", ["preferred_name", "pronouns", "area"])
async def test_a_skipped_answer_stays_skipped_when_the_form_resumes(slot: str) -> None:
    """After a safety check the form validates its answers again: a skip is not asked again."""
    slots, said = await answer("", slot, slots={**ANSWERED, slot: ""})
    assert slots[slot] == "" and said == []


@pytest.mark.parametrize("text", ["afternoon", "evening", "mornings"])
async def test_a_time_of_day_is_an_answer_to_when_not_a_greeting(text: str) -> None:
    slots, _ = await answer(
        text, "best_times", intent="greet", slots={**ANSWERED, "best_times": None}
    )
    assert slots["best_times"] == text


@pytest.mark.parametrize(
    ("text", "part", "value"),
    [
        ("Oh actually can you change my name to Jess? Everyone calls me Jess", "preferred_name",
         "Jess"),
        ("actually change my name, just put Jay", "preferred_name", "Jay"),
        ("actually can i change where i live, its Knaresborough not Harrogate", "area",
         "Knaresborough"),
    ],
)  # fmt: skip
async def test_a_change_that_gives_the_new_value_is_made_at_once(
    text: str, part: str, value: str
) -> None:
    slots, said = await answer(text, "confirm", slots=ANSWERED)
    assert slots[part] == value and slots["confirm"] is None
    assert slots["requested_slot"] == "confirm"  # the summary again, with the change in it
    assert said == [texts.CHANGED]


async def test_the_part_to_change_with_its_new_value_is_changed_without_asking_again() -> None:
    after = {**ANSWERED, "change_requested": True}
    slots, _ = await answer("my name - Jess please", "change_which", slots=after)
    assert slots["preferred_name"] == "Jess" and slots["requested_slot"] == "confirm"
    slots, _ = await answer("the name", "change_which", slots=after)
    assert slots["preferred_name"] is None and slots["requested_slot"] == "preferred_name"


async def test_a_second_name_we_cannot_read_leaves_the_name_out() -> None:
    base = {**ANSWERED, "preferred_name": None}
    text = "well its complicated tbh i go by a few different ones"
    slots, said = await answer(text, "preferred_name", slots=base)
    assert slots["preferred_name"] is None and said == [texts.NUDGE_NAME]
    slots, said = await answer(text, "preferred_name", slots=base, bot_said=(texts.NUDGE_NAME,))
    assert slots["preferred_name"] == SKIPPED
    assert said == [texts.NAME_LEFT_OUT] and slots["requested_slot"] != "preferred_name"


def _not_understood(times: int, slot: str = "what_matters") -> Tracker:
    """The question for `slot` asked, then `times` messages the bot did not understand."""
    asked = {"event": "bot", "text": "What matters most to you right now?",
             "data": {"custom": {"asking": slot}}}  # fmt: skip
    nonsense = {"event": "user", "text": "?", "parse_data": {"intent": {"name": "nonsense"}}}
    events: list[dict[str, Any]] = [{"event": "slot", "name": "requested_slot", "value": slot}]
    events += [{"event": "user", "text": "football", "parse_data": {"intent": {"name": "inform"}}}]
    for _ in range(times):
        events += [asked, nonsense, {"event": "bot", "text": "Sorry, I didn't get that."}]
    return tracker_from_json(
        "new_conversation",
        slots={**ANSWERED, slot: None, "requested_slot": slot},
        latest_message=user_said("?", "nonsense"),
        events=events,
    )


async def test_a_question_not_understood_twice_is_left_for_now() -> None:
    dispatcher = CollectingDispatcher()
    result = await ValidateReferralForm().run(dispatcher, _not_understood(1), DOMAIN)
    slots = {e["name"]: e["value"] for e in result if e["event"] == "slot"}
    assert slots.get("what_matters") is None and slots["requested_slot"] == "what_matters"
    dispatcher = CollectingDispatcher()
    result = await ValidateReferralForm().run(dispatcher, _not_understood(2), DOMAIN)
    slots = {e["name"]: e["value"] for e in result if e["event"] == "slot"}
    assert slots["what_matters"] == SKIPPED and slots["requested_slot"] == "confirm"
    assert texts_of(dispatcher.messages) == [texts.LEFT_FOR_NOW]


async def test_a_yes_or_no_question_is_asked_again_however_often_it_is_not_understood() -> None:
    result = await ValidateReferralForm().run(
        CollectingDispatcher(), _not_understood(3, "contact_ok"), DOMAIN
    )
    slots = {e["name"]: e["value"] for e in result if e["event"] == "slot"}
    assert slots.get("contact_ok") is None and slots["requested_slot"] == "contact_ok"


async def test_words_guessed_as_help_are_the_answer_when_sent_again() -> None:
    slots = await _asked_again("i like to help out at the stables", "get_help", 0.81)
    assert slots["concerns"] == "i like to help out at the stables"


async def test_the_help_keyword_sent_again_is_never_an_answer() -> None:
    slots = await _asked_again("help", "get_help", 1.0)
    assert slots.get("concerns") is None and slots["requested_slot"] == "concerns"
