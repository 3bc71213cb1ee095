"""Worked-out patterns kept between loads: the same rules either way, never stale."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from safeguarding_rules import RuleSet
from safeguarding_rules import loader as loader_module
from safeguarding_rules.loader import load_ruleset_dir
from safeguarding_rules.pattern_cache import CACHE_ENV, default_path
from tests.support.evaldata import load_jsonl

pytestmark = pytest.mark.unit


def shape(ruleset: RuleSet) -> list[tuple[Any, ...]]:
    """Everything the loader works out for each rule."""
    return [
        (
            rule.id,
            rule.pattern_sources,
            len(rule.pattern_regexes),
            rule.pattern_anchors,
            rule.pattern_guards,
            rule.exception_regex.pattern if rule.exception_regex else None,
            rule.requires_regex.pattern if rule.requires_regex else None,
        )
        for rule in ruleset.rules
    ]


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The regex sources the loader works anchors out for (not read from the cache)."""
    seen: list[str] = []
    real = loader_module.analyse

    def counting(parsed: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(parsed))
        return real(parsed, *args, **kwargs)

    monkeypatch.setattr(loader_module, "analyse", counting)
    return seen


def test_a_cached_load_is_the_same_rule_set(
    rules_copy: Path, tmp_path: Path, analysed: list[str]
) -> None:
    cache = tmp_path / "cache.json"
    fresh = load_ruleset_dir(rules_copy, None)
    worked_out = len(analysed)
    first = load_ruleset_dir(rules_copy, cache)
    assert cache.exists()
    analysed.clear()
    second = load_ruleset_dir(rules_copy, cache)
    assert analysed == []  # nothing worked out again
    assert worked_out > 500
    assert shape(fresh) == shape(first) == shape(second)
    assert second.version == fresh.version
    cases = load_jsonl("safeguarding_dev.jsonl")
    for case in cases:
        assert second.screen(case["text"]) == fresh.screen(case["text"])


def test_an_edited_pattern_is_worked_out_again(
    rules_copy: Path, tmp_path: Path, analysed: list[str]
) -> None:
    ruleset = _reload_after_edit(
        rules_copy, tmp_path / "cache.json", analysed, "eating_disorder.yml", "rules:\n", EXTRA_RULE
    )
    assert len(analysed) == 1  # only the new pattern
    assert ruleset.screen("i eat kale crisps every night in secret").severity >= 4


EXTRA_RULE = """rules:
  - id: eating_disorder.test.kale
    category: eating_disorder
    severity: 4
    rationale: A test rule.
    patterns:
      - "kale crisps every night"
    examples:
      match: ["i eat kale crisps every night"]
      no_match: ["i eat kale"]
"""


def test_a_changed_vocabulary_works_everything_out_again(
    rules_copy: Path, tmp_path: Path, analysed: list[str]
) -> None:
    _reload_after_edit(
        rules_copy,
        tmp_path / "cache.json",
        analysed,
        "_normalise.yml",
        "  tonight: [",
        "  tonight: [tonyt, ",
    )
    assert len(analysed) > 500


def _reload_after_edit(
    rules_copy: Path, cache: Path, analysed: list[str], name: str, old: str, new: str
) -> RuleSet:
    """Load (filling the cache), replace ``old`` with ``new`` in one rule file, load again."""
    load_ruleset_dir(rules_copy, cache)
    path = rules_copy / name
    path.write_text(path.read_text().replace(old, new, 1))
    analysed.clear()
    return load_ruleset_dir(rules_copy, cache)


@pytest.mark.parametrize("content", ["{not json", '{"format": 99, "entries": {}}', "[]"])
def test_a_broken_cache_file_is_ignored_and_rewritten(
    rules_copy: Path, tmp_path: Path, content: str
) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text(content)
    ruleset = load_ruleset_dir(rules_copy, cache)
    assert ruleset.screen("i want to kill myself").severity >= 4
    assert cache.read_text().startswith('{"format": 1')


def test_a_cache_that_cannot_be_written_changes_nothing(rules_copy: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache's folder would be")
    ruleset = load_ruleset_dir(rules_copy, blocked / "cache.json")
    assert ruleset.screen("i want to kill myself").severity >= 4


def test_where_the_cache_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    assert default_path() is None
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "x.json"))
    assert default_path() == tmp_path / "x.json"
    monkeypatch.delenv(CACHE_ENV)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert default_path() == Path(os.path.expanduser("~")) / ".cache" / "youthlink" / (
        f"safeguarding-patterns-py{version}.json"
    )
