"""PRIVACY and "what do you know about me?": the notice for their age; what is held, not said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions import rights, settings, texts
from actions.categories import load_tables
from actions.privacy_notice import DATA_FILE, PrivacyNotice, load_notice
from actions.referral import PRIVACY_NOTICE_VERSION, Draft, build_referral
from actions.settings import DEFAULT_DATA_REQUESTS_CONTACT, ActionSettings
from tests.actions.support import texts_of, tracker_from_json, user_said

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

NOTICE = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
CONCERNS = "my stepdad shouts at me every night and i hide in my room"
INTERESTS = "drawing manga and skating"
WHAT_MATTERS = "feeling less alone"
BEST_TIMES = "after 4 when mum is at work"
FULL = Draft(
    conversation_id="conv-1",
    consent=True,
    age=15,
    age_band="13_15",
    preferred_name="Jay",
    pronouns="they/them",
    concerns=CONCERNS,
    interests=INTERESTS,
    what_matters=WHAT_MATTERS,
    area="LS7",
    contact_ok=True,
    best_times=BEST_TIMES,
)
SMS_3_SEGMENTS = 3 * 153


# --- the privacy notice -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("band", "text"),
    [("11_12", "11_12"), ("13_15", "13_15"), ("16_17", "16_plus"), ("18_25", "16_plus"),
     ("under_11", "11_12"), ("over_25", "16_plus")],
)  # fmt: skip
def test_each_age_band_gets_its_own_notice(band: str, text: str) -> None:
    assert load_notice().text_for(band) == NOTICE["texts"][text]


@pytest.mark.parametrize("band", [None, "", "unknown", "something else"])
def test_an_age_not_known_gets_the_text_the_notice_names_for_unknown(band: str | None) -> None:
    assert load_notice().text_for(band) == NOTICE["texts"][NOTICE["bands"]["unknown"]]


def test_every_text_shows_the_version_the_referral_records() -> None:
    notice = load_notice()
    assert notice.version == PRIVACY_NOTICE_VERSION
    for band in notice.bands:
        assert f"v{notice.version}" in notice.text_for(band)
    record = build_referral(
        FULL, load_tables(), referral_id="r-1", now="2026-01-01T10:00:00Z", completed=True
    )
    assert record["consent"]["privacy_notice_version"] == notice.version


def test_a_notice_whose_text_hides_its_version_is_refused() -> None:
    broken = {**NOTICE, "version": "9.9"}
    with pytest.raises(ValueError, match=r"version 9\.9"):
        PrivacyNotice.parse(broken)
    with pytest.raises(ValueError, match="unknown"):
        PrivacyNotice.parse({**NOTICE, "bands": {"13_15": "13_15"}})


def test_the_notice_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "notice.yml"
    path.write_text(DATA_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    first = load_notice(path)
    path.write_text("not: [the notice", encoding="utf-8")
    assert load_notice(path) is first


@pytest.mark.parametrize(("band", "text"), [("16_17", "16_plus"), (None, None)])
async def test_privacy_shows_the_notice_for_the_conversations_age_band(
    band: str | None, text: str | None
) -> None:
    tracker = tracker_from_json(
        "new_conversation", slots={"age_band": band}, latest_message=user_said("PRIVACY", "privacy")
    )
    dispatcher = CollectingDispatcher()
    assert await rights.ActionPrivacyNotice().run(dispatcher, tracker, {}) == []
    expected = NOTICE["texts"][text or NOTICE["bands"]["unknown"]]
    assert texts_of(dispatcher.messages) == [expected]
    assert "DELETE" in expected


# --- what we hold -----------------------------------------------------------------------------


def test_the_summary_names_each_kind_of_thing_held_without_their_words() -> None:
    said = texts.what_we_hold(FULL, sent=False, data_requests_contact="email us")
    assert said.startswith(
        "Right now I have: your age (15), the name you gave (Jay, they/them), what you said is "
        "going on, what you enjoy, what matters to you, your area (LS7), how and when to "
        "contact you."
    )
    for own_words in (CONCERNS, INTERESTS, WHAT_MATTERS, BEST_TIMES):
        for word in own_words.split():
            if len(word) > 4:
                assert word not in said, word
    assert "I also keep our chat and your number or chat ID." in said
    assert "Nothing has gone to a link worker yet." in said
    assert "Any safety worries are kept by our safeguarding team." in said
    assert said.endswith("To get all of it, email us.")


def test_a_new_conversation_holds_none_of_their_answers() -> None:
    said = texts.what_we_hold(
        Draft(conversation_id="c"), sent=False, data_requests_contact=DEFAULT_DATA_REQUESTS_CONTACT
    )
    assert said.startswith("Right now I don't have any of your answers.")
    assert said.endswith("ask your link worker, or text DELETE to remove it.")


@pytest.mark.parametrize(
    ("draft", "sent", "expected"),
    [(FULL, True, "You've sent your referral, so a link worker can see it."),
     (Draft(conversation_id="c", asked_for_person=True), False,
      "You asked for a person, so a link worker can see it."),
     (FULL, False, "Nothing has gone to a link worker yet.")],
)  # fmt: skip
def test_the_summary_says_whether_a_link_worker_can_see_it(
    draft: Draft, sent: bool, expected: str
) -> None:
    assert expected in texts.what_we_hold(draft, sent=sent, data_requests_contact="x")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [({"age": None, "age_band": "16_17"}, "your age group"),
     ({"preferred_name": None}, "your pronouns (they/them)"),
     ({"pronouns": None}, "the name you gave (Jay)"),
     ({"best_times": None}, "how to contact you."),
     ({"contact_ok": False, "contact_other": "none", "best_times": None}, "how to contact you.")],
)  # fmt: skip
def test_partial_answers_are_named_as_they_are(fields: dict[str, Any], expected: str) -> None:
    draft = Draft(**{**FULL.__dict__, **fields})
    assert expected in texts.what_we_hold(draft, sent=False, data_requests_contact="x")


def test_the_longest_summary_fits_in_three_text_messages() -> None:
    longest = Draft(
        **{**FULL.__dict__, "preferred_name": "A" * 200, "pronouns": "P" * 40,
           "area": "Newcastle upon Tyne", "asked_for_person": True}
    )  # fmt: skip
    said = texts.what_we_hold(
        longest, sent=False, data_requests_contact=DEFAULT_DATA_REQUESTS_CONTACT
    )
    assert "A" * 21 not in said and "P" * 21 not in said
    assert len(said) <= SMS_3_SEGMENTS, len(said)


async def test_the_action_summarises_the_tracker_with_the_configured_contact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = ActionSettings("http://127.0.0.1:9", "t", data_requests_contact="text ACCESS")
    monkeypatch.setattr(rights, "current", lambda: settings)
    tracker = tracker_from_json(
        "referral_ready",
        slots={"stage": "sent"},
        latest_message=user_said("wat have u saved", "ask_my_data"),
    )
    dispatcher = CollectingDispatcher()
    assert await rights.ActionWhatWeHold().run(dispatcher, tracker, {}) == []
    (said,) = texts_of(dispatcher.messages)
    assert "the name you gave (Jay, they/them)" in said and "your area (LS7)" in said
    assert "You've sent your referral" in said
    assert said.endswith("To get all of it, text ACCESS.")
    assert "stressed" not in said and "fifa" not in said and "grades" not in said


def test_the_contact_for_data_requests_is_read_from_the_environment() -> None:
    environ = {"YOUTHLINK_DATA_REQUESTS_CONTACT": "  email data@example.org  "}
    assert ActionSettings.from_env(environ).data_requests_contact == "email data@example.org"
    assert ActionSettings.from_env({}).data_requests_contact == DEFAULT_DATA_REQUESTS_CONTACT


async def test_the_contact_is_read_when_the_action_server_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.current.cache_clear()
    monkeypatch.setenv("YOUTHLINK_DATA_REQUESTS_CONTACT", "email data@example.org")
    try:
        action = rights.ActionWhatWeHold()  # made once, when the action server starts
        monkeypatch.delenv("YOUTHLINK_DATA_REQUESTS_CONTACT")
        dispatcher = CollectingDispatcher()
        await action.run(dispatcher, tracker_from_json("new_conversation"), {})
        (said,) = texts_of(dispatcher.messages)
        assert said.endswith("To get all of it, email data@example.org.")
    finally:
        settings.current.cache_clear()
