"""The domain keeps its promises: disclosures and commands are never taken as form answers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

REPO = Path(__file__).resolve().parents[2]
DOMAIN = REPO / "bot" / "domain"
COMMANDS = {"safeguarding_disclosure", "get_help", "stop", "delete_data", "start_over",
            "human_handoff", "privacy", "ask_my_data"}  # fmt: skip
ANSWERED_AT_ANY_POINT = {"privacy": "action_privacy_notice", "ask_my_data": "action_what_we_hold"}


def load(name: str) -> dict:
    return yaml.safe_load((DOMAIN / name).read_text(encoding="utf-8"))


def test_every_form_slot_mapping_leaves_out_disclosures_and_commands() -> None:
    slots = load("slots.yml")["slots"]
    required = {s for f in load("forms.yml")["forms"].values() for s in f["required_slots"]}
    for name in required:
        for mapping in slots[name]["mappings"]:
            missing = COMMANDS - set(mapping.get("not_intent", ()))
            if name == "delete_confirm":
                missing -= {"delete_data"}  # "delete" again confirms the delete
            assert not missing, (name, missing)


def test_answers_keep_the_young_persons_exact_words() -> None:
    slots = load("slots.yml")["slots"]
    for name in ("concerns", "interests", "what_matters", "best_times", "preferred_name"):
        assert [m["type"] for m in slots[name]["mappings"]] == ["from_text"]


def test_every_question_is_asked_by_an_action() -> None:
    actions = set(load("actions.yml")["actions"])
    required = {s for f in load("forms.yml")["forms"].values() for s in f["required_slots"]}
    assert {f"action_ask_{slot}" for slot in required} <= actions


def test_the_gate_runs_last_in_the_pipeline() -> None:
    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))
    names = [c["name"] for c in config["pipeline"]]
    classifiers = [n for n in names if n != "bot.speedups.RasaSpeedups"]
    assert classifiers[-1] == "bot.safeguarding_gate.SafeguardingGate"
    assert names.index("bot.intent_guard.IntentGuard") > names.index("LogisticRegressionClassifier")


def test_the_interruptions_the_guard_knows_are_never_form_answers() -> None:
    from bot.intent_guard import INTERRUPTIONS

    slots = load("slots.yml")["slots"]
    required = {s for f in load("forms.yml")["forms"].values() for s in f["required_slots"]}
    for name in required - {"delete_confirm"}:
        for mapping in slots[name]["mappings"]:
            assert set(INTERRUPTIONS) <= set(mapping.get("not_intent", ())), name


def test_privacy_and_what_we_hold_are_answered_inside_every_form_then_it_resumes() -> None:
    rules = yaml.safe_load((REPO / "bot" / "data" / "rules_commands.yml").read_text())["rules"]
    forms = load("forms.yml")["forms"]
    for intent, action in ANSWERED_AT_ANY_POINT.items():
        for form in forms:
            expected = [{"intent": intent}, {"action": action}, {"action": form},
                        {"active_loop": form}]  # fmt: skip
            assert any(
                r.get("condition") == [{"active_loop": form}] and r["steps"] == expected
                for r in rules
            ), (intent, form)
        # Outside a form: answered, then the greeting and the referral (never a dead end).
        outside = [{"intent": intent}, {"action": action}, {"action": "utter_greet"},
                   {"action": "action_route"}]  # fmt: skip
        assert any("condition" not in r and r["steps"] == outside for r in rules), intent
