"""A loaded rule set and the screening logic (pure: no I/O once loaded)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from safeguarding_rules.categories import CATEGORIES, DEFAULT_ESCALATE_AT
from safeguarding_rules.matcher import Matcher, PrefilterMatcher
from safeguarding_rules.model import ID_PREFIX as MODEL_ID_PREFIX
from safeguarding_rules.model import NOW_ID_PREFIX, Model, ModelFinding
from safeguarding_rules.normalise import Normaliser
from safeguarding_rules.patterns import pad
from safeguarding_rules.rule import Combination, Rule
from safeguarding_rules.verdict import Verdict

# A disclosure split over messages is read across this many earlier messages plus the new one.
SPLIT_WINDOW = 3
_CATEGORY_ORDER = {c: i for i, c in enumerate(CATEGORIES)}
# What the model finds asks for the same-day action a severity-4 rule does: a lead is paged.
MODEL_SEVERITY = DEFAULT_ESCALATE_AT
# The model's risk-now head raises an escalating message to risk to life now.
NOW_SEVERITY = 5


@dataclass(frozen=True)
class _Finding:
    id: str
    category: str
    severity: int


class RuleSet:
    """Rules, combinations and the normaliser, ready to screen messages."""

    def __init__(
        self,
        rules: Sequence[Rule],
        combinations: Sequence[Combination],
        normaliser: Normaliser,
        version: str,
        matcher: Matcher | None = None,
        terms: Mapping[str, str] | None = None,
        model: Model | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.combinations = tuple(combinations)
        self.normalise = normaliser
        self.version = version
        self.terms = dict(terms or {})
        self.model = model
        # The model also reads the recent messages joined with the new one (False: the new
        # message alone, as before; for comparisons).
        self.read_window = True
        self.matcher: Matcher = matcher if matcher is not None else PrefilterMatcher(self.rules)
        self._by_id = {rule.id: rule for rule in self.rules}
        self._max_window = max((c.window for c in self.combinations), default=1)
        self._clear = Verdict.clear(version)

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id, if any."""
        return self._by_id.get(rule_id)

    def tags(self, rule_ids: Iterable[str]) -> frozenset[str]:
        """All tags of the given rules."""
        return frozenset(t for rid in rule_ids if rid in self._by_id for t in self._by_id[rid].tags)

    def hits(self, normalised: str) -> list[Rule]:
        """Rules that fire on already normalised text."""
        padded = pad(normalised)
        return [
            rule
            for rule, which in self.matcher.candidates(padded).items()
            if rule.matches_padded(padded, which)
        ]

    def screen(self, text: str, history: Sequence[str] = ()) -> Verdict:
        """Screen ``text``, the newest message, in the light of ``history`` (earlier
        messages of the same young person, oldest first).

        Reports what this message adds: its own matches, disclosures completed by it across
        recent messages, and combinations (such as grooming) it completes. Matches wholly in
        earlier messages were reported when those arrived; screen_conversation gives the
        standing verdict.
        """
        normalised = self.normalise(text)
        found = set(self.hits(normalised))
        reading = self.model.read(normalised) if self.model is not None else None
        read = list(reading.findings) if reading is not None else []
        if read and found:
            # A rule that matched and judged its category below paging (a concern, say "i
            # smoke weed every day") knows that wording better than the model does. A signal
            # (a grooming sign, say "our secret") judges nothing alone: it waits for others.
            judged = {r.category for r in found if r.severity < MODEL_SEVERITY and not r.signal}
            read = [m for m in read if m.category not in judged]
        if not history and not found and not read:
            return self._clear
        now = reading is not None and reading.now
        recent = [h for h in history[-SPLIT_WINDOW:] if h]
        if recent:
            before = " ".join(recent)
            joined_text = self.normalise(f"{before} {text}")
            joined = set(self.hits(joined_text))
            if joined - found:
                found |= joined - set(self.hits(self.normalise(before)))
            if self.model is not None and self.read_window:
                window, now_in_window = self._window_reading(
                    before, joined_text, found | joined, read
                )
                read.extend(window)
                now = now or now_in_window
        findings = [_Finding(r.id, r.category, r.severity) for r in found]
        findings.extend(_Finding(m.id, m.category, MODEL_SEVERITY) for m in read)
        if now:
            findings.extend(self._now(findings, read))
        if self.combinations:
            findings.extend(self._combinations(found, history))
        return self._verdict(findings)

    def _window_reading(
        self, before: str, joined: str, found: set[Rule], read: list[ModelFinding]
    ) -> tuple[list[ModelFinding], bool]:
        """What the model reads in the recent messages joined with the new one, that it did not
        read in the recent messages alone: a disclosure this message completes ("got the
        tablets out" / "counted them twice" / "should be enough"). Rules that judged a category
        in the window below paging are deferred to, as for the message alone."""
        assert self.model is not None
        reading = self.model.read(joined)
        if not reading.findings:
            return [], False
        had = {m.category for m in read}
        had |= {m.category for m in self.model.read(self.normalise(before)).findings}
        had |= {r.category for r in found if r.severity < MODEL_SEVERITY and not r.signal}
        added = [m for m in reading.findings if m.category not in had]
        return added, bool(added) and reading.now

    def screen_conversation(self, turns: Sequence[str]) -> Verdict:
        """The standing verdict after the last turn: everything any turn raised.

        Never lower than an earlier turn: a retraction ("jk", "I'm fine now") does not
        undo a disclosure; only a person closes an escalation.
        """
        findings: dict[str, _Finding] = {}
        for i, turn in enumerate(turns):
            verdict = self.screen(turn, turns[:i])
            for rule_id in verdict.rule_ids:
                findings.setdefault(rule_id, self._finding(rule_id))
        return self._verdict(findings.values())

    def _combinations(self, found: set[Rule], history: Sequence[str]) -> list[_Finding]:
        now = {r.signal for r in found if r.signal}
        if not now:
            return []
        reach = self._max_window - 1
        earlier_turns = list(history[-reach:]) if reach > 0 else []
        per_turn = [
            {r.signal for r in self.hits(self.normalise(turn)) if r.signal}
            for turn in earlier_turns
        ]
        out = []
        for combo in self.combinations:
            window = per_turn[-(combo.window - 1) :] if combo.window > 1 else []
            before: set[str] = set().union(*window) if window else set()
            if combo.fires(before | now) and not combo.fires(before):
                out.append(_Finding(combo.id, combo.category, combo.severity))
        return out

    @staticmethod
    def _now(findings: list[_Finding], read: list[ModelFinding]) -> list[_Finding]:
        """Raise an escalating message to 5 when the model reads it as risk now, in the
        model's likeliest category, else the rules' most severe one."""
        worst = max((f.severity for f in findings), default=0)
        if not MODEL_SEVERITY <= worst < NOW_SEVERITY:
            return []
        if read:
            category = read[0].category
        else:
            top = [f for f in findings if f.severity == worst]
            category = min(top, key=lambda f: _CATEGORY_ORDER.get(f.category, 99)).category
        return [_Finding(NOW_ID_PREFIX + category, category, NOW_SEVERITY)]

    def _finding(self, rule_id: str) -> _Finding:
        if rule_id.startswith(NOW_ID_PREFIX):
            return _Finding(rule_id, rule_id.removeprefix(NOW_ID_PREFIX), NOW_SEVERITY)
        if rule_id.startswith(MODEL_ID_PREFIX):
            return _Finding(rule_id, rule_id.removeprefix(MODEL_ID_PREFIX), MODEL_SEVERITY)
        rule = self._by_id.get(rule_id)
        if rule is not None:
            return _Finding(rule.id, rule.category, rule.severity)
        combo = next(c for c in self.combinations if c.id == rule_id)
        return _Finding(combo.id, combo.category, combo.severity)

    def _verdict(self, findings: Iterable[_Finding]) -> Verdict:
        ordered = sorted(findings, key=lambda f: (-f.severity, f.id))
        if not ordered:
            return Verdict.clear(self.version)
        worst: dict[str, int] = {}
        for f in ordered:
            worst[f.category] = max(worst.get(f.category, 0), f.severity)
        categories = sorted(worst, key=lambda c: (-worst[c], _CATEGORY_ORDER.get(c, 99)))
        return Verdict(
            severity=ordered[0].severity,
            categories=tuple(categories),
            rule_ids=tuple(dict.fromkeys(f.id for f in ordered)),
            ruleset_version=self.version,
        )
