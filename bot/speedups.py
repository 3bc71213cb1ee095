"""One pipeline entry that makes the Rasa server cheaper per message, changing no answer.

Not NLU: listed in the pipeline only so that Rasa loads it with the model. Each patch is in a
module of its own, with its reason and its figures:
- `bot.action_checks`: action server responses checked with compiled validators, event by event;
- `bot.action_connections`: connections to the action server kept open, requests encoded with ujson;
- `bot.classifier_input`: the intent classifier's input built without needless copies;
- `bot.count_vectors`: words and letter n-grams counted without scikit-learn's per-call machinery;
- `bot.domain_empty`: whether the domain is empty worked out once, not for every message;
- `bot.graph_runner`: the model's graphs run without dask's scheduler;
- `bot.local_questions`: the forms' questions asked here rather than by a call to the action server;
- `bot.log_copies`: no deep copies made for debug log lines while debug logging is off;
- `bot.local_validation`: the forms' answers validated here, not by a call to the action server;
- `bot.rule_lookup`: the rules that match a conversation found without testing every rule;
- `bot.tracker_replay`: trackers copied, and their applied events found, without replaying them.

Once the model has loaded, the server's heap is also set aside from the garbage collector
(`youthlink.heap`): a full collection walked the model's half a million objects, 300 ms.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import (
    action_checks,
    action_connections,
    classifier_input,
    count_vectors,
    domain_empty,
    graph_runner,
    local_questions,
    local_validation,
    log_copies,
    rule_lookup,
    tracker_replay,
)
from youthlink.heap import freeze_soon


def install() -> None:
    """Install every patch (idempotent)."""
    action_checks.install()
    action_connections.install()
    classifier_input.install()
    count_vectors.install()
    domain_empty.install()
    graph_runner.install()
    local_questions.install()
    local_validation.install()
    log_copies.install()
    rule_lookup.install()
    tracker_replay.install()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RasaSpeedups(GraphComponent):
    """Installs the patches when the model loads; leaves messages as they are."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RasaSpeedups:
        install()
        # Called while the model loads (in the server's start-up listener): the freeze runs
        # when the loop next gets a turn, after the rest of the model has loaded.
        freeze_soon()
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        return messages
