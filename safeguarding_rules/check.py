"""What `python -m safeguarding_rules check` runs: validate every data file and run every
rule's own examples. Tests use the same functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from safeguarding_rules.contacts import STALE_AFTER_MONTHS, Contact, read_contacts
from safeguarding_rules.errors import Problem
from safeguarding_rules.loader import read_rules
from safeguarding_rules.matcher import PrefilterMatcher
from safeguarding_rules.replies import check_replies, read_replies
from safeguarding_rules.rule import Combination, Rule
from safeguarding_rules.ruleset import RuleSet


@dataclass(frozen=True)
class ExampleFailure:
    """A rule's own example that does not behave as the rule file says."""

    rule_id: str
    source: str
    example: str
    should_match: bool
    normalised: str

    def __str__(self) -> str:
        expected = "should match" if self.should_match else "should not match"
        shown = self.normalised.replace("\n", " | ")
        return f"{self.source}: {self.rule_id} {expected} {self.example!r} (reads as {shown!r})"


@dataclass
class CheckReport:
    """Everything `check` found."""

    problems: list[Problem] = field(default_factory=list)
    failures: list[ExampleFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problems and no failing examples (warnings allowed)."""
        return not self.problems and not self.failures

    def render(self) -> str:
        """A plain-text report for a safeguarding lead."""
        lines = ["Safeguarding rules check", *(f"  {n}" for n in self.notes)]
        lines += [f"PROBLEM {p}" for p in self.problems]
        lines += [f"FAIL {f}" for f in self.failures]
        lines += [f"WARN {w}" for w in self.warnings]
        if self.ok:
            lines.append("OK: all rule files are valid and every example behaves as written.")
        else:
            count = len(self.problems) + len(self.failures)
            lines.append(f"FAILED: {count} problem(s) to fix before these rules can be used.")
        return "\n".join(lines)


def rule_failures(ruleset: RuleSet, rule: Rule) -> list[ExampleFailure]:
    """A rule's own examples that do not behave as written."""
    failures = []
    cases = [(e, True) for e in rule.examples_match] + [(e, False) for e in rule.examples_no_match]
    for example, should in cases:
        normalised = ruleset.normalise(example)
        if rule.matches(normalised) != should:
            failures.append(ExampleFailure(rule.id, rule.source, example, should, normalised))
    return failures


def combination_failures(ruleset: RuleSet, combo: Combination) -> list[ExampleFailure]:
    """A combination's own example conversations that do not behave as written."""
    failures = []
    cases = [(c, True) for c in combo.examples_match] + [
        (c, False) for c in combo.examples_no_match
    ]
    for turns, should in cases:
        fired = combo.id in ruleset.screen_conversation(turns).rule_ids
        if fired != should:
            shown = " / ".join(turns)
            failures.append(ExampleFailure(combo.id, combo.source, shown, should, shown))
    return failures


def example_failures(ruleset: RuleSet) -> list[ExampleFailure]:
    """Run every rule's and combination's own examples."""
    failures = [f for rule in ruleset.rules for f in rule_failures(ruleset, rule)]
    for combo in ruleset.combinations:
        failures.extend(combination_failures(ruleset, combo))
    return failures


def run_check(
    rules_dir: Path, contacts_path: Path, replies_path: Path, today: dt.date
) -> CheckReport:
    """Validate rules, contacts and replies; run examples; warn about stale contacts."""
    report = CheckReport()
    result = read_rules(rules_dir)
    report.problems.extend(result.problems)
    if result.ruleset is not None:
        ruleset = result.ruleset
        failures = example_failures(ruleset)
        report.failures.extend(failures)
        examples = sum(len(r.examples_match) + len(r.examples_no_match) for r in ruleset.rules)
        examples += sum(
            len(c.examples_match) + len(c.examples_no_match) for c in ruleset.combinations
        )
        report.notes.append(
            f"rules: {len(ruleset.rules)} rules and {len(ruleset.combinations)} combination(s)"
            f" in {rules_dir} (version {ruleset.version})"
        )
        report.notes.append(f"examples: {examples} run, {len(failures)} failed")
        model = ruleset.model
        report.notes.append(
            "model: none (the rules alone)"
            if model is None
            else f"model: {model.size} n-grams, pages at {model.threshold:.0%} sure"
            + (f", risk now at {model.now.threshold:.0%}" if model.now is not None else "")
            + " (docs/safeguarding-rules.md)"
        )
        matcher = ruleset.matcher
        if isinstance(matcher, PrefilterMatcher):
            for rule in matcher.unanchored:
                report.warnings.append(
                    f"{rule.source}: {rule.id} has no literal word every match contains, so it"
                    " runs on every message (slower); consider a more specific pattern"
                )
    contacts, contact_problems = read_contacts(contacts_path)
    report.problems.extend(contact_problems)
    if not contact_problems:
        stale = [c for c in contacts.values() if c.is_stale(today)]
        report.notes.append(
            f"contacts: {len(contacts)} in {contacts_path}, {len(stale)} last checked more than"
            f" {STALE_AFTER_MONTHS} months before {today.isoformat()}"
        )
        report.warnings.extend(_stale_warning(contacts_path, c, today) for c in stale)
        book, reply_problems = read_replies(replies_path, contacts)
        report.problems.extend(reply_problems)
        if book is not None:
            policy = check_replies(book)
            report.problems.extend(policy)
            report.notes.append(f"replies: {replies_path}, {len(policy)} problem(s)")
    return report


def _stale_warning(path: Path, contact: Contact, today: dt.date) -> str:
    return (
        f"{path}:{contact.line}: {contact.key} ({contact.name}) was last checked on"
        f" {contact.last_checked.isoformat()}, more than {STALE_AFTER_MONTHS} months before"
        f" {today.isoformat()}: check the number and update last_checked"
    )
