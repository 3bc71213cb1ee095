"""The development referrals, scripted through the running stack, store the expected records."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.support.evaldata import check_referral_outcome, eval_dir, load_jsonl
from tests.support.stack import APP_BIN, REPO, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scripted(stack: Stack) -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        [str(APP_BIN / "youthlink"), "chat", "--script", str(eval_dir() / "referrals_dev.jsonl")],
        cwd=REPO, env=stack.env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {line["id"]: line for line in lines}


CASES = load_jsonl("referrals_dev.jsonl")


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_dev_referral_stores_expected_record(
    case: dict[str, Any], scripted: dict[str, dict[str, Any]]
) -> None:
    outcome = scripted[case["id"]]
    expect = case["expect"]
    referral = check_referral_outcome(expect, outcome)
    if referral is None:
        return
    for category in expect.get("safeguarding_categories", []):
        assert category in referral["safeguarding"]["categories"]
    if "priority" in expect:
        assert referral["priority"] == expect["priority"]
    if expect["flagged"]:
        assert outcome["escalations"], "a flagged referral must come with an escalation record"
    # Own words are kept verbatim.
    answers = case["answers"]
    if answers.get("interests", "skip") != "skip":
        assert any(item["own_words"] == answers["interests"] for item in referral["interests"])
