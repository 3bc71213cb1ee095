"""Hard cases in young people's own language (tests/safeguarding_rules/safeguarding_cases.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from safeguarding_rules import RuleSet

pytestmark = pytest.mark.unit

CASES: dict[str, Any] = yaml.safe_load(
    (Path(__file__).with_name("safeguarding_cases.yml")).read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", CASES["escalate"], ids=lambda c: c["text"][:40])
def test_escalates(ruleset: RuleSet, case: dict[str, Any]) -> None:
    verdict = ruleset.screen(case["text"])
    assert verdict.escalate(), (verdict, ruleset.normalise(case["text"]))
    assert case["category"] in verdict.categories, verdict
    assert verdict.severity >= case.get("min_severity", 4), verdict


@pytest.mark.parametrize("text", CASES["benign"], ids=lambda t: t[:40])
def test_stays_below_escalation(ruleset: RuleSet, text: str) -> None:
    verdict = ruleset.screen(text)
    assert verdict.severity < 4, (verdict, ruleset.normalise(text))


@pytest.mark.parametrize("case", CASES["conversations"]["escalate"], ids=lambda c: c["turns"][0])
def test_conversation_escalates(ruleset: RuleSet, case: dict[str, Any]) -> None:
    verdict = ruleset.screen_conversation(case["turns"])
    assert verdict.escalate() and case["category"] in verdict.categories, verdict


@pytest.mark.parametrize("turns", CASES["conversations"]["benign"], ids=lambda t: t[0])
def test_conversation_stays_clear(ruleset: RuleSet, turns: list[str]) -> None:
    assert ruleset.screen_conversation(turns).severity < 4
