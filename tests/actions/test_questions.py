"""Every question carries its asking key; wording follows the age band."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actions.questions import QuestionBook, load_book

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

REPO = Path(__file__).resolve().parents[2]
ASKING_KEYS = {
    "consent", "age", "preferred_name", "pronouns", "concerns", "interests", "what_matters",
    "area", "contact_ok", "contact_other", "best_times", "confirm", "change_which", "safe_now",
    "continue", "delete_confirm",
}  # fmt: skip


def form_slots() -> set[str]:
    forms = yaml.safe_load((REPO / "bot" / "domain" / "forms.yml").read_text(encoding="utf-8"))
    return {slot for form in forms["forms"].values() for slot in form["required_slots"]}


def test_every_form_slot_has_a_question_and_every_key_is_in_the_contract() -> None:
    book = load_book()
    assert form_slots() - {"confirm"} == set(book.asking)  # confirm is the summary (ask.py)
    assert set(book.asking.values()) | {"confirm"} == ASKING_KEYS


def test_a_question_message_carries_asking_next_to_its_text() -> None:
    message = load_book().question("consent", {}).as_message()
    assert message["json_message"] == {"asking": "consent"}
    assert message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]


def test_every_button_payload_is_an_intent() -> None:
    book = load_book()
    for variations in book.variations.values():
        for variation in variations:
            assert all(payload.startswith("/") for _, payload in variation.buttons)


def test_wording_adapts_to_the_age_band() -> None:
    book = load_book()
    texts = {band: book.question("concerns", {"age_band": band}).text for band in
             ("11_12", "13_15", "16_17", "18_25")}  # fmt: skip
    assert len(set(texts.values())) == 4
    assert book.question("concerns", {}).text == texts["18_25"]


def test_keep_going_depends_on_being_safe() -> None:
    book = load_book()
    assert "glad" in book.question("keep_going", {"safe_now": True}).text
    assert "999" in book.question("keep_going", {"safe_now": False}).text
    assert "999" in book.question("keep_going", {"safe_now": ""}).text


def test_the_last_variation_must_be_the_default() -> None:
    with pytest.raises(ValueError, match="no conditions"):
        QuestionBook.parse(
            {"age": {"asking": "age", "variations": [{"when": {"x": 1}, "text": "t"}]}}
        )


def test_the_summary_shows_exactly_what_will_be_sent() -> None:
    from actions.referral import Draft
    from actions.texts import summary

    text = summary(
        Draft(
            conversation_id="c",
            channel="sms",
            preferred_name="Sam",
            pronouns="they/them",
            age=16,
            concerns="no mates",
            interests="skating",
            what_matters=None,
            area="LS7",
            contact_ok=False,
            contact_other="none",
            best_times="after 4",
        )
    )
    assert "Name: Sam (they/them)" in text
    assert 'What\'s going on: "no mates"' in text
    assert "What matters: (skipped)" in text
    assert "Contact: no contact for now" in text and "after 4" not in text
