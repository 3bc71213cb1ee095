"""Locate the development sets: YOUTHLINK_EVAL_DIR, else `../shared/eval` next to the repo, else
the copy kept in `tests/data/eval` (so a clone on its own can still run every test)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED_EVAL = REPO.parent / "shared" / "eval"
VENDORED_EVAL = REPO / "tests" / "data" / "eval"


def eval_dir() -> Path:
    """The folder holding the development sets."""
    override = os.environ.get("YOUTHLINK_EVAL_DIR")
    if override:
        return Path(override)
    return SHARED_EVAL if SHARED_EVAL.is_dir() else VENDORED_EVAL


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """Every record of one development set."""
    path = eval_dir() / name
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def check_referral_outcome(
    expect: dict[str, Any], outcome: dict[str, Any]
) -> dict[str, Any] | None:
    """Assert what every scripted referral must show (referral or none, age band, categories,
    contact, flag); the stored referral for further checks, or None when none is expected."""
    referral = outcome["referral"]
    if "referral" in expect and expect["referral"] is None:
        assert referral is None, outcome["transcript"]
        return None
    assert referral is not None, outcome["transcript"]
    assert referral["young_person"]["age_band"] == expect["age_band"]
    concerns = {item["category"] for item in referral["concerns"]}
    interests = {item["category"] for item in referral["interests"]}
    assert set(expect.get("concerns", [])) <= concerns, (concerns, outcome["transcript"])
    assert set(expect.get("interests", [])) <= interests, (interests, outcome["transcript"])
    if "safe_to_contact" in expect:  # not asked when they stopped after a disclosure
        assert referral["contact"]["safe_to_contact"] is expect["safe_to_contact"]
    assert referral["safeguarding"]["flagged"] is expect["flagged"]
    return dict(referral)


def check_scripted_referral(case: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any] | None:
    """`check_referral_outcome`, then the safeguarding categories and priority the case expects;
    the stored referral, or None when none is expected."""
    expect = case["expect"]
    referral = check_referral_outcome(expect, outcome)
    if referral is None:
        return None
    for category in expect.get("safeguarding_categories", []):
        assert category in referral["safeguarding"]["categories"]
    if "priority" in expect:
        assert referral["priority"] == expect["priority"]
    return referral
