"""The referral record: valid against the schema, own words kept, contact and priority rules."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from jsonschema import Draft202012Validator

from actions.categories import load_tables
from actions.referral import Draft, InvalidReferral, Safeguarding, build_referral, check_referral
from actions.settings import SCHEMA_FILE

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

RID = "0b5f6f8e-2f7c-4f0e-9a55-3e8f1d9c2a11"
NOW = "2026-01-05T17:05:00Z"
FULL = Draft(
    conversation_id="conv-7f3a9c",
    channel="sms",
    consent=True,
    consent_given_at="2026-01-05T17:02:11Z",
    age=14,
    age_band="13_15",
    preferred_name="Jay",
    pronouns="they/them",
    concerns="i get really stressed about school and i dont sleep much",
    interests="football and fifa",
    what_matters="getting my grades up, making friends",
    area="LS7",
    contact_ok=True,
    best_times="after 4",
)


def record(draft: Draft, completed: bool = True) -> dict:
    return build_referral(draft, load_tables(), referral_id=RID, now=NOW, completed=completed)


def schema_errors(rec: dict) -> list[str]:
    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    return [e.message for e in validator.iter_errors(rec)]


@pytest.mark.parametrize(
    "draft",
    [
        FULL,
        Draft(conversation_id="conv-early"),  # asked for a person before anything else
        replace(FULL, preferred_name=None, area=None, what_matters=None, best_times=None),
        replace(FULL, contact_ok=False, contact_other="none"),
        replace(FULL, contact_ok=False, contact_other="phone_call"),
        replace(FULL, channel="something-new"),
        replace(FULL, safeguarding=Safeguarding(5, ("self_harm",), ("esc-1",))),
        replace(FULL, concerns="x" * 3000, age=200),
    ],
)
def test_records_validate_against_the_schema(draft: Draft) -> None:
    rec = record(draft)
    assert schema_errors(rec) == []
    check_referral(rec, SCHEMA_FILE)


def test_the_full_record() -> None:
    rec = record(FULL)
    assert rec["source"] == {"channel": "sms", "conversation_id": "conv-7f3a9c", "completed": True}
    assert rec["young_person"] == {
        "preferred_name": "Jay",
        "pronouns": "they/them",
        "age": 14,
        "age_band": "13_15",
        "area": "LS7",
    }
    assert rec["contact"] == {
        "method": "sms",
        "address": None,
        "safe_to_contact": True,
        "best_times": "after 4",
    }
    assert rec["consent"]["privacy_notice_version"] == "1.0"
    assert rec["consent"]["given_at"] == "2026-01-05T17:02:11Z"
    assert {c["category"] for c in rec["concerns"]} >= {"anxiety_stress", "sleep"}
    assert all(c["own_words"] == FULL.concerns for c in rec["concerns"])
    assert {i["category"] for i in rec["interests"]} == {"sport_fitness", "gaming_tech"}
    assert rec["goals"] == ["getting my grades up", "making friends"]
    assert rec["priority"] == "routine"
    assert rec["safeguarding"] == {
        "flagged": False,
        "highest_severity": 0,
        "categories": [],
        "escalation_ids": [],
    }


def test_not_safe_here_and_no_other_way_means_no_contact_and_no_times() -> None:
    rec = record(replace(FULL, contact_ok=False, contact_other="none"))
    assert rec["contact"]["method"] == "none"
    assert rec["contact"]["safe_to_contact"] is False
    assert rec["contact"]["best_times"] is None


def test_a_phone_call_instead() -> None:
    rec = record(replace(FULL, contact_ok=False, contact_other="phone_call"))
    assert rec["contact"]["method"] == "phone_call"
    assert rec["contact"]["safe_to_contact"] is True


def test_priority_urgent_when_flagged_priority_when_asked_for_a_person() -> None:
    flagged = replace(FULL, safeguarding=Safeguarding(4, ("self_harm",), ("esc-1",)))
    assert record(flagged)["priority"] == "urgent"
    assert record(flagged)["safeguarding"]["flagged"] is True
    asked = replace(FULL, asked_for_person=True)
    assert record(asked)["priority"] == "priority"
    assert asked.flags == ["asked_for_person"]


def test_an_early_referral_knows_what_it_does_not_know() -> None:
    rec = record(Draft(conversation_id="conv-early", asked_for_person=True), completed=False)
    assert rec["source"]["completed"] is False
    assert rec["young_person"]["age_band"] == "unknown"
    assert rec["contact"]["safe_to_contact"] is False
    assert rec["concerns"] == [] and rec["interests"] == []


def test_safeguarding_summary_folds_escalations() -> None:
    summary = (
        Safeguarding().add(4, ("self_harm",), "esc-1").add(5, ("suicide", "self_harm"), "esc-2")
    )
    assert summary == Safeguarding(5, ("self_harm", "suicide"), ("esc-1", "esc-2"))
    assert summary.add(3, (), "esc-2").escalation_ids == ("esc-1", "esc-2")


def test_check_names_where_a_record_is_wrong_without_its_content() -> None:
    rec = record(FULL)
    rec["young_person"]["age_band"] = "twelve"
    with pytest.raises(InvalidReferral) as err:
        check_referral(rec, SCHEMA_FILE)
    assert "young_person/age_band" in str(err.value)
    assert "twelve" not in str(err.value)
