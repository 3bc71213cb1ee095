"""The quick rule lookup finds the same rules as Rasa's own, on this project's trained rules."""

from __future__ import annotations

import json
import random
import tarfile
from pathlib import Path
from typing import Any

import pytest
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET

from bot.rule_lookup import _original_get_possible_keys, get_possible_keys

MODEL = Path(__file__).resolve().parents[2] / "models" / "youthlink.tar.gz"


@pytest.fixture(scope="module")
def lookups() -> dict[str, dict[str, str]]:
    """The trained rule policy's lookups (rules, and the forms' unhappy paths)."""
    with tarfile.open(MODEL) as archive:
        for member in archive.getmembers():
            if member.name.endswith("train_RulePolicy0/rule_policy.json"):
                data = archive.extractfile(member)
                assert data is not None
                lookup = json.load(data)["lookup"]
                return {name: lookup[name] for name in ("rules", "rules_for_loop_unhappy_path")}
    raise AssertionError("no rule policy in the trained model")


def histories(lookup: dict[str, str], rng: random.Random) -> list[list[dict[str, Any]]]:
    """Conversations shaped like the rules: each rule's own states, behind other rules' states,
    with the latest previous action swapped, with features dropped, and cut short."""
    rules = [RulePolicy._rule_key_to_state(key) for key in lookup]
    actions = sorted(
        {
            state[PREVIOUS_ACTION]["action_name"]
            for states in rules
            for state in states
            if "action_name" in state.get(PREVIOUS_ACTION, {})
        }
    )
    found = []
    for states in rules:
        before = rng.choice(rules)
        found.append(list(states))
        found.append(before + states)
        found.append(states[1:])
        swapped = json.loads(json.dumps(states))
        swapped[-1][PREVIOUS_ACTION] = {"action_name": rng.choice(actions)}
        found.append(before + swapped)
        dropped = json.loads(json.dumps(states))
        for state in dropped:
            if len(state) > 1:
                state.pop(rng.choice(sorted(state)))
        found.append(dropped)
        started = json.loads(json.dumps(states))
        started[-1].pop(PREVIOUS_ACTION, None)
        found.append(started)
        found.append((before + states) * 4)
    return found


def with_variants(lookup: dict[str, str], rng: random.Random) -> dict[str, str]:
    """The lookup and rules the model does not have (yet): last states naming no previous
    action (a conversation's start), naming it by text, or saying it must not be set."""
    extended = dict(lookup)
    for key in rng.sample(sorted(lookup), 30):
        for previous in (None, {"action_text": "hello"}, {"action_name": SHOULD_NOT_BE_SET}):
            states = json.loads(key)
            states[-1].pop(PREVIOUS_ACTION, None)
            if previous is not None:
                states[-1][PREVIOUS_ACTION] = previous
            extended[json.dumps(states, sort_keys=True)] = lookup[key]
    return extended


def test_the_same_rules_are_found_for_every_history(lookups: dict[str, dict[str, str]]) -> None:
    policy = RulePolicy.__new__(RulePolicy)
    rng = random.Random(11)
    compared = matched = 0
    for lookup in [*lookups.values(), *(with_variants(x, rng) for x in lookups.values())]:
        for states in [*histories(lookup, rng), []]:
            expected = _original_get_possible_keys(policy, lookup, states)
            assert get_possible_keys(policy, lookup, states) == expected
            compared += 1
            matched += bool(expected)
    assert compared > 1000
    assert matched > compared / 3  # the histories do match rules, not only miss them
