"""Pure record rules: merging an early referral with the full one, wiping, priorities."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handoff import records
from handoff.validation import validate_referral
from tests.support.referrals import OWN_WORDS, TEST_PHONE, make_referral

pytestmark = pytest.mark.unit

NOW = datetime(2025, 11, 28, 19, 0, tzinfo=UTC)


def early(conversation_id: str = "c_test_conversation") -> dict:
    record = records.early_record(
        conversation_id=conversation_id, channel="sms", age_band="13_15", now=NOW
    )
    return records.add_escalation(
        record, escalation_id="e-1", severity=5, categories=["self_harm", "made_up"]
    )


def test_an_early_record_is_schema_valid_incomplete_urgent_and_flagged() -> None:
    record = early()
    validate_referral(record)
    assert record["source"]["completed"] is False
    assert record["consent"]["share_with_link_worker"] is False
    assert record["priority"] == "urgent"
    assert record["status"] == "new"
    assert record["safeguarding"] == {
        "flagged": True,
        "highest_severity": 5,
        "categories": ["self_harm"],  # unknown categories stay out of the record
        "escalation_ids": ["e-1"],
    }


def test_an_early_record_with_an_unknown_age_band_says_unknown() -> None:
    record = records.early_record(conversation_id="c", channel="sms", age_band="teen", now=NOW)
    assert record["young_person"]["age_band"] == "unknown"


def test_merge_keeps_identity_status_and_safeguarding_and_takes_the_answers() -> None:
    old = early()
    old["status"] = "claimed"
    new = make_referral()
    new["safeguarding"] = {
        "flagged": True,
        "highest_severity": 4,
        "categories": ["suicide", "self_harm"],
        "escalation_ids": ["e-2"],
    }
    merged = records.merge(old, new)
    validate_referral(merged)
    assert merged["referral_id"] == old["referral_id"]
    assert merged["created_at"] == old["created_at"]
    assert merged["status"] == "claimed"
    assert merged["priority"] == "urgent"  # the higher of urgent and routine
    assert merged["source"]["completed"] is True
    assert merged["safeguarding"] == {
        "flagged": True,
        "highest_severity": 5,
        "categories": ["self_harm", "suicide"],
        "escalation_ids": ["e-1", "e-2"],
    }
    assert merged["contact"]["safe_to_contact"] is True
    assert merged["consent"]["share_with_link_worker"] is True
    assert merged["concerns"] == new["concerns"]


def test_merge_fills_gaps_from_the_earlier_record() -> None:
    old = make_referral(source={"channel": "sms", "conversation_id": "c", "completed": False})
    old["contact"]["address"] = TEST_PHONE
    new = make_referral(
        source={"channel": "sms", "conversation_id": "c", "completed": True},
        interests=[],
        what_matters=None,
    )
    new["young_person"] = {"age_band": "unknown", "preferred_name": None}
    merged = records.merge(old, new)
    assert merged["young_person"]["age_band"] == "13_15"
    assert merged["young_person"]["preferred_name"] == "Jay"
    assert merged["interests"] == old["interests"]
    assert merged["what_matters"] == old["what_matters"]
    assert merged["contact"]["address"] == TEST_PHONE


def test_merge_never_lowers_priority() -> None:
    old = make_referral(priority="priority")
    assert records.merge(old, make_referral(priority="routine"))["priority"] == "priority"
    assert records.merge(old, make_referral(priority="urgent"))["priority"] == "urgent"


@pytest.mark.parametrize(("severity", "expected"), [(0, "routine"), (2, "routine"), (3, "urgent")])
def test_priority_floor_from_severity(severity: int, expected: str) -> None:
    record = make_referral()
    record["safeguarding"]["highest_severity"] = severity
    assert records.priority_floor(record) == expected


def test_wipe_keeps_only_non_personal_fields() -> None:
    record = make_referral()
    record["contact"]["address"] = TEST_PHONE
    wiped = records.wipe_personal(record)
    validate_referral(wiped)
    text = repr(wiped)
    for personal in (TEST_PHONE, OWN_WORDS, "Jay", "LS7", "after 4", "grades", "football"):
        assert personal not in text
    assert wiped["young_person"] == {"age_band": "13_15"}
    assert [c["category"] for c in wiped["concerns"]] == ["anxiety_stress", "sleep"]
    assert wiped["safeguarding"] == record["safeguarding"]
    assert wiped["referral_id"] == record["referral_id"]


def test_union_keeps_first_seen_order() -> None:
    assert records.union(["b", "a"], ["a", "c", "b"]) == ["b", "a", "c"]
