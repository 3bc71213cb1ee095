"""Rules and combinations as loaded from the rule files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from safeguarding_rules.anchors import Anchor
from safeguarding_rules.patterns import pad


@dataclass(frozen=True, eq=False)
class Rule:
    """One safeguarding rule: patterns that raise a concern unless an exception covers them.

    Each pattern is compiled on its own (``pattern_regexes``, from ``pattern_sources``) with
    the anchors that any of its matches contains (``pattern_anchors``; None when it must be
    tried on every message) and ``pattern_guards``: sets of words each of which must share
    a word with the message.
    An exception cancels a match it overlaps; when ``requires_regex`` is set, something it
    matches must also be in the text.
    """

    id: str
    category: str
    severity: int
    rationale: str
    patterns: tuple[str, ...]
    exceptions: tuple[str, ...]
    requires_any: tuple[str, ...]
    signal: str | None
    tags: tuple[str, ...]
    examples_match: tuple[str, ...]
    examples_no_match: tuple[str, ...]
    source: str
    pattern_sources: tuple[str, ...]
    pattern_regexes: tuple[re.Pattern[str], ...]
    pattern_anchors: tuple[frozenset[Anchor] | None, ...]
    pattern_guards: tuple[tuple[frozenset[str], ...], ...]
    exception_regex: re.Pattern[str] | None
    requires_regex: re.Pattern[str] | None

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """All the rule's patterns as one regex (over padded text)."""
        return re.compile("|".join(f"(?:{source})" for source in self.pattern_sources))

    @property
    def anchors(self) -> frozenset[Anchor] | None:
        """Anchors of all patterns (None if any pattern has none)."""
        if any(a is None for a in self.pattern_anchors):
            return None
        return frozenset(a for found in self.pattern_anchors if found for a in found)

    def matches(self, normalised: str) -> bool:
        """Whether this rule fires on normalised text (as the Normaliser returns it)."""
        return self.matches_padded(pad(normalised))

    def matches_padded(self, padded: str, which: Sequence[int] | None = None) -> bool:
        """Whether this rule fires on padded text, trying only patterns ``which`` if given."""
        regexes = (
            self.pattern_regexes if which is None else [self.pattern_regexes[i] for i in which]
        )
        spans: list[tuple[int, int]] | None = None
        for regex in regexes:
            pos = 0
            while True:
                match = regex.search(padded, pos)
                if match is None:
                    break
                if self.exception_regex is not None:
                    if spans is None:
                        spans = [m.span() for m in self.exception_regex.finditer(padded)]
                    start, end = match.span()
                    if any(a < end and start < b for a, b in spans):
                        pos = start + 1
                        continue
                return self.requires_regex is None or self.requires_regex.search(padded) is not None
        return False


@dataclass(frozen=True, eq=False)
class Combination:
    """Signals that together, within the last ``window`` messages, make a disclosure
    (e.g. grooming: secrecy + pictures + meeting)."""

    id: str
    category: str
    severity: int
    rationale: str
    signals: tuple[str, ...]
    min_signals: int
    window: int
    examples_match: tuple[tuple[str, ...], ...]
    examples_no_match: tuple[tuple[str, ...], ...]
    source: str

    def fires(self, present: frozenset[str] | set[str]) -> bool:
        """Whether enough of this combination's signals are among ``present``."""
        return sum(1 for s in self.signals if s in present) >= self.min_signals
