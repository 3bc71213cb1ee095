"""A broken rule file is reported with its file, line and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from safeguarding_rules import RuleSetError, load_ruleset
from safeguarding_rules.check import run_check
from safeguarding_rules.contacts import default_contacts_path
from safeguarding_rules.loader import read_rules
from safeguarding_rules.replies import default_replies_path

pytestmark = pytest.mark.unit

RULE = """\
category: eating_disorder
rules:
  - id: eating_disorder.test.one
    category: eating_disorder
    severity: 4
    rationale: A test rule.
    patterns:
      - "purge"
    examples:
      match: ["i purge"]
      no_match: ["i eat"]
"""


def write(rules: Path, text: str, name: str = "eating_disorder.yml") -> Path:
    path = rules / name
    path.write_text(text)
    return path


def problems(rules: Path) -> list[str]:
    return [str(p) for p in read_rules(rules).problems]


def only_problem(rules: Path) -> str:
    found = problems(rules)
    assert len(found) == 1, found
    return found[0]


def test_yaml_syntax_error(rules_copy: Path) -> None:
    path = write(rules_copy, RULE.replace('      - "purge"', '      - "purge\n      - x'))
    message = only_problem(rules_copy)
    assert message.startswith(f"{path}:")
    assert "YAML syntax" in message


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("    severity: 4\n", "    severity: 7\n"), 5, "the maximum is 5"),
        (("    severity: 4\n", "    severity: high\n"), 5, "must be a whole number"),
        (("    rationale: A test rule.\n", ""), 3, "missing required field 'rationale'"),
        (("    patterns:\n", "    pattern:\n"), 7, "unknown field 'pattern' (did you mean"),
        (('      no_match: ["i eat"]\n', "      no_match: []\n"), 11, "needs at least 1"),
        (("  - id: eating_disorder.test.one\n", "  - id: Eating Disorder\n"), 3, "must look like"),
        (("    category: eating_disorder\n", "    category: eating\n"), 4, "expected one of"),
    ],
)
def test_schema_mistakes(rules_copy: Path, change: tuple[str, str], line: int, reason: str) -> None:
    path = write(rules_copy, RULE.replace(*change))
    found = problems(rules_copy)
    assert any(m.startswith(f"{path}:{line}:") and reason in m for m in found), found


def test_bad_regex_points_at_the_pattern_line(rules_copy: Path) -> None:
    path = write(rules_copy, RULE.replace('      - "purge"', '      - "purge (ing"'))
    message = only_problem(rules_copy)
    assert message.startswith(f"{path}:8:")
    assert "not a valid regular expression" in message


def test_unknown_term(rules_copy: Path) -> None:
    path = write(rules_copy, RULE.replace('      - "purge"', '      - "{nonsense} purge"'))
    message = only_problem(rules_copy)
    assert message.startswith(f"{path}:8:") and "unknown term {nonsense}" in message


def test_emoji_in_a_pattern_is_refused(rules_copy: Path) -> None:
    write(rules_copy, RULE.replace('      - "purge"', '      - "💊 purge"'))
    assert "never reach the rules" in only_problem(rules_copy)


def test_rule_in_the_wrong_file(rules_copy: Path) -> None:
    write(rules_copy, RULE.replace("    category: eating_disorder\n", "    category: suicide\n"))
    message = only_problem(rules_copy)
    assert ":4:" in message and "the file is 'eating_disorder'" in message


def test_duplicate_rule_id(rules_copy: Path) -> None:
    doubled = RULE + RULE.split("rules:\n", 1)[1]
    path = write(rules_copy, doubled)
    message = only_problem(rules_copy)
    assert message.startswith(f"{path}:12:") and f"already used at {path}:3" in message


def test_unknown_signal_in_a_combination(rules_copy: Path) -> None:
    combo = """\
combinations:
  - id: eating_disorder.test.combo
    category: eating_disorder
    severity: 4
    rationale: A test combination.
    signals: [nothing_gives_this, nor_this]
    min_signals: 2
    window: 5
    examples:
      match: [["a"]]
      no_match: [["b"]]
"""
    write(rules_copy, RULE + combo)
    found = problems(rules_copy)
    assert len(found) == 2 and all("no rule gives the signal" in f for f in found)


def test_stray_file_name(rules_copy: Path) -> None:
    write(rules_copy, RULE, name="eating.yml")
    assert "file name must be a category" in only_problem(rules_copy)


def test_load_ruleset_raises_with_every_problem(rules_copy: Path) -> None:
    write(rules_copy, RULE.replace("    severity: 4\n", "    severity: 9\n"))
    write(rules_copy, "category: suicide\nrules: oops\n", name="suicide.yml")
    with pytest.raises(RuleSetError) as raised:
        load_ruleset(rules_copy)
    assert len(raised.value.problems) == 2
    assert "eating_disorder.yml:5:" in str(raised.value)
    assert "suicide.yml:2:" in str(raised.value)


def test_check_report_lists_problems(rules_copy: Path) -> None:
    write(rules_copy, RULE.replace("    severity: 4\n", "    severity: 0\n"))
    import datetime as dt

    report = run_check(
        rules_copy, default_contacts_path(), default_replies_path(), dt.date(2026, 11, 28)
    )
    assert not report.ok
    assert "PROBLEM" in report.render() and "eating_disorder.yml:5:" in report.render()
