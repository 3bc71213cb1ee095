"""The shared development set: every escalation found, severity 5 where required, right
category, and no more than 3% of benign messages at severity 4 or above."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safeguarding_rules import RuleSet

pytestmark = pytest.mark.unit


def _items(eval_dir: Path) -> list[dict]:
    path = eval_dir / "safeguarding_dev.jsonl"
    if not path.exists():
        pytest.skip(f"development set not found at {path} (set YOUTHLINK_EVAL_DIR)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_escalate_item_escalates_with_its_category(ruleset: RuleSet, eval_dir: Path) -> None:
    misses = []
    for item in _items(eval_dir):
        if item["expect"] != "escalate":
            continue
        verdict = ruleset.screen(item["text"])
        if not verdict.escalate() or item["category"] not in verdict.categories:
            misses.append((item["id"], item["text"], verdict))
    assert not misses


def test_min_severity_5_items_score_5(ruleset: RuleSet, eval_dir: Path) -> None:
    low = [
        (item["id"], item["text"], ruleset.screen(item["text"]).severity)
        for item in _items(eval_dir)
        if item.get("min_severity") == 5 and ruleset.screen(item["text"]).severity < 5
    ]
    assert not low


def test_benign_items_rarely_reach_severity_4(ruleset: RuleSet, eval_dir: Path) -> None:
    benign = [item for item in _items(eval_dir) if item["expect"] == "benign"]
    alarms = [(i["id"], i["text"]) for i in benign if ruleset.screen(i["text"]).severity >= 4]
    assert benign
    assert len(alarms) <= 0.03 * len(benign), alarms
