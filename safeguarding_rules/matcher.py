"""Strategies that pick which rules to try on a message.

Both return the rules worth running their own regex on; the rule itself decides. The
prefilter strategy is the one in use (see bench/bench_safeguarding.py for the comparison).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from safeguarding_rules.rule import Rule
from safeguarding_rules.trie import prefix_free, trie_pattern

Candidates = dict[Rule, "Sequence[int] | None"]


class Matcher(Protocol):
    """Chooses candidate rules (and which of their patterns) for padded normalised text."""

    def candidates(self, text: str) -> Candidates:
        """Rules that might match ``text``, each with the indexes of the patterns worth
        trying (None: all of them)."""
        ...


class PrefilterMatcher:
    """Per-pattern regexes behind a keyword prefilter built from the patterns themselves:
    anchors that are whole words are looked up in the message's set of words; the rest are
    found by one trie-shaped scan (an Aho-Corasick-style pass)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        always: dict[Rule, set[int]] = {}
        by_word: dict[str, set[tuple[Rule, int]]] = {}
        by_text: dict[str, set[tuple[Rule, int]]] = {}
        for rule in rules:
            for index, pattern_anchors in enumerate(rule.pattern_anchors):
                if pattern_anchors is None:
                    always.setdefault(rule, set()).add(index)
                    continue
                for anchor in pattern_anchors:
                    if anchor.word is not None:
                        by_word.setdefault(anchor.word, set()).add((rule, index))
                    else:
                        by_text.setdefault(anchor.text, set()).add((rule, index))
        roots = prefix_free(by_text)
        by_root: dict[str, set[tuple[Rule, int]]] = {}
        for text, pairs in by_text.items():
            by_root.setdefault(roots[text], set()).update(pairs)
        self._always = {rule: sorted(indexes) for rule, indexes in always.items()}
        self._by_word = {w: _flat(pairs) for w, pairs in by_word.items()}
        self._words = frozenset(self._by_word)
        self._by_root = {t: _flat(pairs) for t, pairs in by_root.items()}
        self._scan = re.compile("(?=(" + trie_pattern(by_root) + "))") if by_root else None

    @property
    def unanchored(self) -> tuple[Rule, ...]:
        """Rules with a pattern that has no anchors (tried on every message)."""
        return tuple(sorted(self._always, key=lambda r: r.id))

    def candidates(self, text: str) -> Candidates:
        picked: dict[Rule, list[int]] = {r: list(i) for r, i in self._always.items()}
        words = set(text.split())
        found = [self._by_word[w] for w in self._words.intersection(words)]
        if self._scan is not None:
            found.extend(self._by_root[root] for root in set(self._scan.findall(text)))
        for entries in found:
            for rule, index, guards in entries:
                for guard in guards:
                    if guard.isdisjoint(words):
                        break
                else:
                    known = picked.get(rule)
                    if known is None:
                        picked[rule] = [index]
                    elif index not in known:
                        known.append(index)
        return picked  # type: ignore[return-value]


def _flat(pairs: set[tuple[Rule, int]]) -> tuple[tuple[Rule, int, tuple[frozenset[str], ...]], ...]:
    return tuple(
        (rule, index, rule.pattern_guards[index])
        for rule, index in sorted(pairs, key=lambda p: (p[0].id, p[1]))
    )


class AlternationMatcher:
    """One compiled alternation per category as a gate; on a hit, that category's rules."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        by_category: dict[str, list[Rule]] = {}
        for rule in rules:
            by_category.setdefault(rule.category, []).append(rule)
        self._gates = [
            (re.compile("|".join(f"(?:{r.regex.pattern})" for r in group)), tuple(group))
            for group in by_category.values()
        ]

    def candidates(self, text: str) -> Candidates:
        picked: Candidates = {}
        for gate, group in self._gates:
            if gate.search(text) is not None:
                picked.update(dict.fromkeys(group))
        return picked


class EveryRuleMatcher:
    """No prefilter: every rule's regex on every message (the baseline)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = tuple(rules)

    def candidates(self, text: str) -> Candidates:
        return dict.fromkeys(self._rules)


STRATEGIES: dict[str, type[PrefilterMatcher] | type[AlternationMatcher] | type[EveryRuleMatcher]]
STRATEGIES = {
    "prefilter": PrefilterMatcher,
    "alternation": AlternationMatcher,
    "every-rule": EveryRuleMatcher,
}
