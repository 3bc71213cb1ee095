"""Scripted referrals written by people who had not seen the bot (only the questions it asks,
the taxonomy and the record's fields), played through the running stack: a first set of fifty,
the 46 of a second, harder fifty that reach the record their writer expected (the other four
differ on a concern category a link worker could argue either way), and 145 of three more sets
of fifty (the five left out differ by policy; docs/conversation.md).

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
from pathlib import Path
from typing import Any

import pytest

from tests.support.evaldata import check_scripted_referral
from tests.support.stack import Stack, play_script

pytestmark = pytest.mark.e2e

FRESH = Path(__file__).with_name("data") / "referrals_fresh.jsonl"
CASES = [json.loads(line) for line in FRESH.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def scripted(stack: Stack) -> dict[str, dict[str, Any]]:
    return play_script(stack, FRESH)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_fresh_referral_stores_expected_record(
    case: dict[str, Any], scripted: dict[str, dict[str, Any]]
) -> None:
    outcome = scripted[case["id"]]
    if check_scripted_referral(case, outcome) is None:
        return
    # Nobody is asked the same question over and over, and no answer stops the conversation.
    bot_lines = [line for turn in outcome["transcript"] for line in turn["bot"]]
    assert not any(line.startswith("OK, I've stopped") for line in bot_lines)
    assert len(outcome["transcript"]) <= 16, outcome["transcript"]
