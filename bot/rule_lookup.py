"""Finds the rules that match a conversation without testing every rule against it.

Rasa 3.6's `RulePolicy._get_possible_keys` tests each of the model's rules (194 here) against
the conversation's latest state, then the survivors against each earlier state, to the start of
the conversation. Twice per prediction, two or three predictions per turn: about 6% of the Rasa
server's CPU. Installed by `bot.speedups`, this keeps Rasa's test (`_is_rule_applicable`) and
its answer, and skips only tests whose outcome is known:
- at the latest state, a rule whose last state names a previous action other than the one just
  run cannot match (Rasa's test fails on that value alone), so the rules are indexed by that
  action and only those naming it, or none, are tested;
- once the states looked at outnumber the longest remaining rule, every remaining rule matches
  every earlier state (Rasa's test returns True past a rule's length), so the walk stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
from rasa.shared.nlu.constants import ACTION_NAME

_original_get_possible_keys = RulePolicy._get_possible_keys

State = dict[str, dict[str, Any]]


class RuleIndex:
    """A lookup's rule keys by the previous action their last state requires, and their
    lengths."""

    def __init__(self, lookup: Mapping[str, str]) -> None:
        self.lengths: dict[str, int] = {}
        self.by_action: dict[str | None, set[str]] = {}
        for key in lookup:
            states = RulePolicy._rule_key_to_state(key)
            self.lengths[key] = len(states)
            self.by_action.setdefault(_required_action(states[-1]), set()).add(key)

    def candidates(self, state: State) -> set[str]:
        """The keys that may match `state` as the latest state (a superset of those that do)."""
        action = _previous_action(state)
        found = set(self.by_action.get(None, ()))
        if action is not None:
            found |= self.by_action.get(action, set())
        return found


def _required_action(rule_state: State) -> str | None:
    name = (rule_state.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    if not name or name == SHOULD_NOT_BE_SET:
        return None
    return str(name)


def _previous_action(state: State) -> str | None:
    name = (state.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    return str(name) if isinstance(name, str) and name else None


def get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list[State]) -> set[str]:
    """`RulePolicy._get_possible_keys`, same answer (see the module)."""
    indexes: dict[int, tuple[Mapping[str, str], RuleIndex]] = self.__dict__.setdefault(
        "_youthlink_rule_indexes", {}
    )
    held = indexes.get(id(lookup))
    if held is None or held[0] is not lookup:
        held = (lookup, RuleIndex(lookup))
        indexes[id(lookup)] = held
    index = held[1]
    if not states:
        return set(lookup)
    keys: set[str] = set(lookup)
    for turn, state in enumerate(reversed(states)):
        if turn == 0:
            keys = index.candidates(state)
        if not keys or turn >= max(index.lengths[key] for key in keys):
            break
        keys = {key for key in keys if self._is_rule_applicable(key, turn, state)}
    return keys


def install() -> None:
    """Make the rule policy look rules up this way."""
    RulePolicy._get_possible_keys = get_possible_keys  # type: ignore[method-assign]
