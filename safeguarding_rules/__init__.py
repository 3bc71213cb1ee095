"""Deterministic safeguarding rules for YouthLink.

Every message a young person sends is screened against rules kept as data in
``rules/*.yml``. Standard library and PyYAML only; works on Python 3.10 and 3.11+.

    >>> import safeguarding_rules
    >>> verdict = safeguarding_rules.screen("i want to kill myself")
    >>> verdict.escalate()
    True
"""

from safeguarding_rules.categories import AGE_BANDS, CATEGORIES, DEFAULT_ESCALATE_AT
from safeguarding_rules.engine import (
    crisis_reply,
    help_reply,
    load_replies,
    load_ruleset,
    screen,
    screen_conversation,
)
from safeguarding_rules.errors import Problem, RuleSetError, SafeguardingRulesError
from safeguarding_rules.ruleset import RuleSet
from safeguarding_rules.verdict import Verdict

__all__ = [
    "AGE_BANDS",
    "CATEGORIES",
    "DEFAULT_ESCALATE_AT",
    "Problem",
    "RuleSet",
    "RuleSetError",
    "SafeguardingRulesError",
    "Verdict",
    "crisis_reply",
    "help_reply",
    "load_replies",
    "load_ruleset",
    "screen",
    "screen_conversation",
]
