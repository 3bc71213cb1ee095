"""The result of screening: how serious, which categories, which rules."""

from __future__ import annotations

from dataclasses import dataclass

from safeguarding_rules.categories import DEFAULT_ESCALATE_AT


@dataclass(frozen=True)
class Verdict:
    """What the rules found in a message (or a conversation).

    ``severity`` is 0 when nothing matched, else 1-5; ``categories`` are ordered most
    severe first; ``rule_ids`` name every rule that matched, most severe first.
    """

    severity: int
    categories: tuple[str, ...]
    rule_ids: tuple[str, ...]
    ruleset_version: str

    def escalate(self, threshold: int = DEFAULT_ESCALATE_AT) -> bool:
        """True when the severity reaches ``threshold`` (a safeguarding lead is paged)."""
        return self.severity >= threshold

    @classmethod
    def clear(cls, ruleset_version: str) -> Verdict:
        """A verdict with nothing found."""
        return cls(0, (), (), ruleset_version)
