"""Every rule's own examples, run by the same code `python -m safeguarding_rules check` uses."""

from __future__ import annotations

import pytest

from safeguarding_rules import RuleSet, load_ruleset
from safeguarding_rules.check import combination_failures, rule_failures

pytestmark = pytest.mark.unit

_RULESET = load_ruleset()


@pytest.mark.parametrize("rule", _RULESET.rules, ids=lambda r: r.id)
def test_rule_examples(ruleset: RuleSet, rule: object) -> None:
    failures = rule_failures(ruleset, ruleset.rule(rule.id))  # type: ignore[attr-defined, arg-type]
    assert not failures, "\n".join(str(f) for f in failures)


@pytest.mark.parametrize("combination", _RULESET.combinations, ids=lambda c: c.id)
def test_combination_examples(ruleset: RuleSet, combination: object) -> None:
    failures = combination_failures(ruleset, combination)  # type: ignore[arg-type]
    assert not failures, "\n".join(str(f) for f in failures)


def test_every_rule_has_examples_both_ways(ruleset: RuleSet) -> None:
    for rule in ruleset.rules:
        assert rule.examples_match and rule.examples_no_match, rule.id


def test_every_category_has_rules_that_escalate(ruleset: RuleSet) -> None:
    from safeguarding_rules import CATEGORIES

    for category in CATEGORIES:
        severities = [r.severity for r in ruleset.rules if r.category == category]
        assert max(severities) >= 4, category
