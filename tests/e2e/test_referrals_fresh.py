"""Scripted referrals written by people who had not seen the bot (only the questions it asks,
the taxonomy and the record's fields), played through the running stack: a first set of fifty,
and the 46 of a second, harder fifty that reach the record their writer expected (the other
four differ on a concern category a link worker could argue either way; docs/conversation.md).

They found what the development set could not: answers read as commands ("get out more" as
STOP, "Glasgow" as goodbye), a first message that asks a question and then stalls, contact
answers such as "only text not call" and areas such as "Sheffield S11" asked again and again, a
disclosure in the "what do you enjoy?" answer raised on every re-ask, and an unfinished referral
after a disclosure that lost the age. One opening was changed from "can i talk to someone" to
"hi": a request for a person creates a flagged referral there and then, by design
(docs/conversation.md).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.evaldata import check_referral_outcome
from tests.support.stack import APP_BIN, REPO, Stack

pytestmark = pytest.mark.e2e

FRESH = Path(__file__).with_name("data") / "referrals_fresh.jsonl"
CASES = [json.loads(line) for line in FRESH.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def scripted(stack: Stack) -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        [str(APP_BIN / "youthlink"), "chat", "--script", str(FRESH)],
        cwd=REPO, env=stack.env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {line["id"]: line for line in lines}


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_fresh_referral_stores_expected_record(
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
    # Nobody is asked the same question over and over, and no answer stops the conversation.
    bot_lines = [line for turn in outcome["transcript"] for line in turn["bot"]]
    assert not any(line.startswith("OK, I've stopped") for line in bot_lines)
    assert len(outcome["transcript"]) <= 16, outcome["transcript"]
