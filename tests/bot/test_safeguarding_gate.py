"""The safeguarding gate: the rules (or the gateway's verdict) decide a disclosure, not a guess."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message

import safeguarding_rules
from bot.safeguarding_gate import (
    DISCLOSURE,
    MIN_CONFIDENCE,
    Finding,
    SafeguardingGate,
    from_gateway,
    gate,
)

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

REPO = Path(__file__).resolve().parents[2]

RANKING = [{"name": "inform", "confidence": 0.6}, {"name": "affirm", "confidence": 0.3}]


def message(text: str, intent: str = "inform", metadata: dict | None = None) -> Message:
    ranking = [{"name": intent, "confidence": 0.7}, *RANKING]
    return Message(
        data={
            "text": text,
            "metadata": metadata or {},
            "intent": ranking[0],
            "intent_ranking": ranking,
        }
    )


def test_a_gateway_verdict_at_the_threshold_is_a_disclosure() -> None:
    found = from_gateway(
        {"safeguarding": {"severity": 4, "categories": ["self_harm"], "rule_ids": ["r1"],
                          "escalation_id": "esc-9"}}, 4)  # fmt: skip
    assert found == Finding(4, ("self_harm",), ("r1",), "esc-9", "gateway")
    assert from_gateway({"safeguarding": {"severity": 3}}, 4) is None
    assert from_gateway({"channel": "sms"}, 4) is None
    assert from_gateway(None, 4) is None
    assert from_gateway({"safeguarding": {"severity": "high"}}, 4) is None


def test_a_finding_puts_the_disclosure_first_at_full_confidence() -> None:
    intent, ranking = gate(RANKING[0], RANKING, Finding(5, ("suicide",), (), None, "rules"))
    assert intent == {"name": DISCLOSURE, "confidence": 1.0}
    assert ranking[0] == intent and [r["name"] for r in ranking[1:]] == ["inform", "affirm"]


def test_a_classifier_guess_of_disclosure_without_the_rules_is_dropped() -> None:
    guessed = [{"name": DISCLOSURE, "confidence": 0.4}, *RANKING]
    intent, ranking = gate(guessed[0], guessed, None)
    assert intent == {"name": "inform", "confidence": pytest.approx(0.6 / 0.9)}
    assert DISCLOSURE not in [r["name"] for r in ranking]


def test_the_component_screens_the_text_with_the_rules() -> None:
    gate_component = SafeguardingGate(threshold=4)
    text = "i want to kill myself"
    assert safeguarding_rules.screen(text).escalate(4)
    (parsed,) = gate_component.process([message(text)])
    assert parsed.get("intent")["name"] == DISCLOSURE
    assert parsed.get("safeguarding")["source"] == "rules"
    assert "suicide" in parsed.get("safeguarding")["categories"]


def test_the_component_trusts_the_gateway_and_keeps_its_escalation_id() -> None:
    verdict = {"severity": 5, "categories": ["suicide"], "rule_ids": ["s1"], "escalation_id": "e1"}
    (parsed,) = SafeguardingGate(threshold=4).process(
        [message("yeah", intent="affirm", metadata={"safeguarding": verdict})]
    )
    assert parsed.get("intent")["name"] == DISCLOSURE
    assert parsed.get("safeguarding")["escalation_id"] == "e1"


@pytest.mark.parametrize("text", ["i love baked beans", "football and fifa", "yes"])
def test_ordinary_messages_pass_unchanged(text: str) -> None:
    (parsed,) = SafeguardingGate(threshold=4).process([message(text)])
    assert parsed.get("intent")["name"] == "inform"
    assert parsed.get("safeguarding") is None


def test_a_dropped_disclosure_guess_leaves_no_unearned_interruption() -> None:
    """A bullying story the classifier read as a disclosure first and "what do you know about
    me?" second is the answer, not a question about their data."""
    text = "someone made a group chat about me and everyone in my class was laughing at me"
    guessed = [{"name": DISCLOSURE, "confidence": 0.8}, {"name": "ask_my_data", "confidence": 0.17},
               {"name": "inform", "confidence": 0.03}]  # fmt: skip
    intent, ranking = gate(guessed[0], guessed, None, text)
    assert intent is not None and intent["name"] == "inform"
    assert DISCLOSURE not in [r["name"] for r in ranking]


def test_a_dropped_disclosure_guess_keeps_an_interruption_in_its_own_words() -> None:
    guessed = [{"name": DISCLOSURE, "confidence": 0.6},
               {"name": "human_handoff", "confidence": 0.3},
               {"name": "inform", "confidence": 0.1}]  # fmt: skip
    intent, _ = gate(guessed[0], guessed, None, "can i talk to a real person")
    assert intent is not None and intent["name"] == "human_handoff"
    assert intent["confidence"] == pytest.approx(0.75)


def test_the_gate_holds_interruptions_to_the_guards_confidence() -> None:
    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    (guard_config,) = [c for c in config["pipeline"] if c["name"].endswith("IntentGuard")]
    assert guard_config["min_confidence"] == MIN_CONFIDENCE
