"""The referral schema check: the vendored copy, valid records, and problems named by path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handoff.errors import InvalidReferral
from handoff.validation import load_schema, validate_referral
from tests.support.referrals import make_referral

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SHARED_SCHEMA = REPO.parent / "shared" / "referral.schema.json"


def test_vendored_schema_is_identical_to_the_shared_contract() -> None:
    if not SHARED_SCHEMA.exists():
        pytest.skip(f"the shared contract is not next to this checkout ({SHARED_SCHEMA})")
    vendored = REPO / "handoff" / "schema" / "referral.schema.json"
    assert vendored.read_bytes() == SHARED_SCHEMA.read_bytes()
    assert load_schema() == json.loads(SHARED_SCHEMA.read_text("utf-8"))


def test_a_complete_record_is_valid() -> None:
    record = make_referral()
    assert validate_referral(record) is record


def problems_of(record: object) -> tuple[str, ...]:
    with pytest.raises(InvalidReferral) as caught:
        validate_referral(record)
    return caught.value.problems


def test_a_bad_enum_is_named_by_its_path() -> None:
    record = make_referral()
    record["young_person"]["age_band"] = "teen"
    (problem,) = problems_of(record)
    assert problem.startswith("referral.young_person.age_band:")
    assert "13_15" in problem  # says what is allowed


def test_a_missing_required_field_is_named() -> None:
    record = make_referral()
    del record["consent"]
    (problem,) = problems_of(record)
    assert problem == "referral: 'consent' is a required property"


def test_an_unexpected_field_is_refused() -> None:
    record = make_referral()
    record["contact"]["phone"] = "+447700900461"
    (problem,) = problems_of(record)
    assert problem.startswith("referral.contact:")
    assert "'phone' was unexpected" in problem


def test_items_are_named_by_index() -> None:
    record = make_referral()
    record["interests"].append({"category": "Football!", "own_words": "footy"})
    (problem,) = problems_of(record)
    assert problem.startswith("referral.interests[1].category:")


def test_problems_never_echo_the_personal_value() -> None:
    record = make_referral()
    record["young_person"]["preferred_name"] = "Zebedee" * 20  # longer than 80
    record["what_matters"] = 42
    problems = problems_of(record)
    assert len(problems) == 2
    assert not any("Zebedee" in p for p in problems)
    assert "referral.young_person.preferred_name: does not satisfy maxLength 80" in problems


@pytest.mark.parametrize(
    "moment",
    ["yesterday", "2025-11-28", "2025-11-28T18:30:00", "2025-13-28T18:30:00Z"],
)
def test_timestamps_must_be_full_rfc3339(moment: str) -> None:
    record = make_referral(created_at=moment)
    (problem,) = problems_of(record)
    assert problem.startswith("referral.created_at: does not satisfy format")


def test_timestamps_in_utc_with_z_are_accepted() -> None:
    validate_referral(make_referral(created_at="2025-11-28T18:30:00Z"))


def test_referral_id_must_be_a_uuid() -> None:
    (problem,) = problems_of(make_referral(referral_id="referral-1"))
    assert problem.startswith("referral.referral_id: does not satisfy format")


def test_not_an_object() -> None:
    assert problems_of(["a", "list"]) == ("referral: must be a JSON object",)
