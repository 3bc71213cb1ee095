"""Conversation-level screening: split disclosures, retractions, grooming build-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safeguarding_rules import RuleSet

pytestmark = pytest.mark.unit

GROOMING = "sexual_abuse.grooming.build_up"


def test_disclosure_split_over_two_messages(ruleset: RuleSet) -> None:
    assert not ruleset.screen("i want to").escalate()
    verdict = ruleset.screen("kill myself", history=["i want to"])
    assert verdict.escalate() and "suicide" in verdict.categories


def test_disclosure_split_over_three_messages(ruleset: RuleSet) -> None:
    turns = ["my stepdad", "keeps", "touching me when mum is out"]
    verdict = ruleset.screen(turns[-1], history=turns[:-1])
    assert verdict.escalate() and "sexual_abuse" in verdict.categories


def test_split_words_are_read_across_messages(ruleset: RuleSet) -> None:
    verdict = ruleset.screen("harm", history=["i self"])
    assert verdict.escalate() and "self_harm" in verdict.categories


def test_earlier_disclosure_is_not_reported_again_by_a_later_message(ruleset: RuleSet) -> None:
    history = ["i want to kill myself"]
    assert ruleset.screen("anyway i like drawing", history=history).severity == 0


def test_standing_verdict_covers_the_whole_conversation(ruleset: RuleSet) -> None:
    verdict = ruleset.screen_conversation(["hi", "my dad hits me", "anyway", "i like football"])
    assert verdict.escalate() and "abuse" in verdict.categories


@pytest.mark.parametrize(
    "retraction",
    ["jk", "lol", "you misunderstood", "i'm fine now", "only joking 😂", "forget i said that"],
)
def test_retraction_never_lowers_a_standing_escalation(ruleset: RuleSet, retraction: str) -> None:
    disclosure = "i'm going to take all my pills tonight"
    before = ruleset.screen_conversation([disclosure])
    after = ruleset.screen_conversation([disclosure, retraction])
    assert after.severity == before.severity == 5
    assert set(before.rule_ids) <= set(after.rule_ids)
    assert after.escalate()


def test_retraction_in_the_same_message_does_not_cancel_it(ruleset: RuleSet) -> None:
    assert ruleset.screen("i want to kill myself lol jk").escalate()


def test_grooming_builds_up_across_messages(ruleset: RuleSet) -> None:
    turns = [
        "theres this guy i met on snap",
        "hes really nice to me",
        "he says its our little secret",
        "he wants to meet up this weekend",
    ]
    for i in range(2):
        assert GROOMING not in ruleset.screen_conversation(turns[: i + 1]).rule_ids
    verdict = ruleset.screen(turns[2], history=turns[:2])
    assert GROOMING in verdict.rule_ids and verdict.escalate()
    assert "sexual_abuse" in verdict.categories
    standing = ruleset.screen_conversation(turns)
    assert GROOMING in standing.rule_ids and standing.escalate()


def test_grooming_build_up_without_an_online_stranger(ruleset: RuleSet) -> None:
    turns = ["he keeps asking me for pics", "i dont know what to do", "he wants to meet up irl"]
    assert GROOMING not in ruleset.screen_conversation(turns[:2]).rule_ids
    assert GROOMING in ruleset.screen(turns[2], history=turns[:2]).rule_ids


def test_grooming_signals_in_one_message(ruleset: RuleSet) -> None:
    verdict = ruleset.screen("someone from discord wants to meet me irl and says keep it secret")
    assert GROOMING in verdict.rule_ids and verdict.escalate()


def test_grooming_pictures_then_secrecy(ruleset: RuleSet) -> None:
    turns = ["an older guy online keeps asking for pics", "i said no", "he said dont tell anyone"]
    assert ruleset.screen_conversation(turns).escalate()


def test_grooming_signals_far_apart_do_not_combine(ruleset: RuleSet) -> None:
    turns = ["he says keep it secret"] + ["i like football"] * 12 + ["he wants to meet up"]
    assert GROOMING not in ruleset.screen_conversation(turns).rule_ids


def test_one_signal_alone_does_not_escalate(ruleset: RuleSet) -> None:
    verdict = ruleset.screen_conversation(["please dont tell anyone", "i fancy someone at school"])
    assert not verdict.escalate()


def test_benign_conversation_stays_clear(ruleset: RuleSet) -> None:
    turns = ["hi", "im 14", "i like dancing and drawing", "school is stressful", "thanks"]
    assert ruleset.screen_conversation(turns).severity < 4


def test_the_unseen_conversations_are_screened_as_labelled(ruleset: RuleSet) -> None:
    """Conversations written by people who had not read the rules (scored before each change
    in docs/benchmarks.md): disclosures told across messages are caught with their category,
    life-risk ones at severity 5, and few near misses page."""
    path = Path(__file__).with_name("unseen_conversations.jsonl")
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    disclosures = [c for c in cases if c["expect"] == "escalate"]
    near_misses = [c for c in cases if c["expect"] == "benign"]
    assert len(disclosures) >= 280 and len(near_misses) >= 180
    verdicts = {c["id"]: ruleset.screen_conversation(c["turns"]) for c in cases}
    caught = [c for c in disclosures if c["category"] in verdicts[c["id"]].categories
              and verdicts[c["id"]].escalate()]  # fmt: skip
    due_five = [c for c in disclosures if c.get("min_severity") == 5]
    five = [c for c in due_five if verdicts[c["id"]].severity == 5]
    paged = [c for c in near_misses if verdicts[c["id"]].escalate()]
    assert len(caught) / len(disclosures) >= 0.98
    assert len(five) / len(due_five) >= 0.93
    assert len(paged) / len(near_misses) <= 0.25
