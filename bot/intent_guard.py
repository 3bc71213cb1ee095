"""NLU component: certain intents are set without guessing; unsure interruptions give way.

Certain: command keywords ("HELP", "stop", "delete", "privacy"), emoji that mean yes/no/thanks,
and keyboard mash (see bot/keywords.py). Interruptions (HELP, STOP, DELETE, PRIVACY, "what do
you know about me?", asking for a person, start over, "are you a bot?", out of scope, nonsense)
are left out of every form answer, so a classifier that mistakes an answer ("making some mates",
"Leo") for one would make the bot ask the same question again. So an interruption below
`min_confidence`, or one plainly about their life ("i cant stop crying" is not STOP, "i get no
privacy at home" is not PRIVACY), gives way to the best ordinary intent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.keywords import certain_intent, not_a_command
from bot.ranking import Intent, promote, without

INTERRUPTIONS = (
    "get_help", "stop", "delete_data", "start_over", "human_handoff", "privacy", "ask_my_data",
    "bot_challenge", "out_of_scope", "ask_about_service", "nonsense", "goodbye",
)  # fmt: skip
# Also held to their own words, though a form may take them as an answer: a greeting ("Kit
# (he/they)" read as "hi" was asked for again and again) and thanks ("tuesdays or thursdays"
# read as thanks answered nothing, so the question came back).
GIVE_WAY = (*INTERRUPTIONS, "greet", "thanks")


def guard(
    text: str,
    intent: Mapping[str, Any] | None,
    ranking: Sequence[Mapping[str, Any]],
    interruptions: Collection[str],
    min_confidence: float,
) -> tuple[Intent | None, list[Intent]]:
    """The intent and ranking to keep: certain ones first; an unsure interruption gives way."""
    certain = certain_intent(text)
    if certain is not None:
        return {"name": certain, "confidence": 1.0}, promote(ranking, certain, 1.0)
    if not intent or intent.get("name") not in interruptions:
        return (dict(intent) if intent else None), [dict(r) for r in ranking]
    confident = float(intent.get("confidence") or 0.0) >= min_confidence
    if confident and not not_a_command(intent.get("name"), text):
        return dict(intent), [dict(r) for r in ranking]
    others = without(ranking, interruptions) or [
        # Only interruptions ranked: the next one that stands in its own words, else an answer
        # (never the one that just gave way: "can you help me please full stop" is not STOP).
        dict(r) for r in ranking[1:] if not not_a_command(r.get("name"), text)
    ]
    best: Intent = others[0] if others else {"name": "inform", "confidence": 0.0}
    return best, promote(ranking, best["name"], float(best["confidence"]))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class IntentGuard(GraphComponent, IntentClassifier):
    """Sets certain intents; keeps unsure interruption intents from taking over a form answer."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"interruptions": list(GIVE_WAY), "min_confidence": 0.5}

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._interruptions = frozenset(config["interruptions"])
        self._min_confidence = float(config["min_confidence"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntentGuard:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent, ranking = guard(
                message.get("text") or "",
                message.get("intent"),
                message.get("intent_ranking") or [],
                self._interruptions,
                self._min_confidence,
            )
            if intent is not None:
                message.set("intent", intent, add_to_output=True)
                message.set("intent_ranking", ranking, add_to_output=True)
        return messages
