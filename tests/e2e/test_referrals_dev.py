"""The development referrals, scripted through the running stack, store the expected records."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.evaldata import check_scripted_referral, eval_dir, load_jsonl
from tests.support.stack import Stack, play_script

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scripted(stack: Stack) -> dict[str, dict[str, Any]]:
    return play_script(stack, eval_dir() / "referrals_dev.jsonl")


CASES = load_jsonl("referrals_dev.jsonl")


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_dev_referral_stores_expected_record(
    case: dict[str, Any], scripted: dict[str, dict[str, Any]]
) -> None:
    outcome = scripted[case["id"]]
    expect = case["expect"]
    referral = check_scripted_referral(case, outcome)
    if referral is None:
        return
    if expect["flagged"]:
        assert outcome["escalations"], "a flagged referral must come with an escalation record"
    # Own words are kept verbatim.
    answers = case["answers"]
    if answers.get("interests", "skip") != "skip":
        assert any(item["own_words"] == answers["interests"] for item in referral["interests"])
