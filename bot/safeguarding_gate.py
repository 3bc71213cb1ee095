"""NLU component: a serious disclosure becomes the `safeguarding_disclosure` intent.

Decided by the deterministic rules only (`safeguarding_rules`, the same rules the gateway
applies): the gateway's verdict in the message metadata, or this component's own screening of
the text. The classifier never decides it: a classifier guess without the rules is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import safeguarding_rules
from bot.intent_guard import GIVE_WAY, guard
from bot.ranking import Intent, promote, without
from youthlink.config import Settings

logger = logging.getLogger(__name__)

DISCLOSURE = "safeguarding_disclosure"
MIN_CONFIDENCE = 0.4
"""As the intent guard's `min_confidence` in config.yml."""
OUTPUT_KEY = "safeguarding"
"""Parse-data key with what was found; the actions read it from the latest message."""


@dataclass(frozen=True)
class Finding:
    """An escalating verdict, from the gateway (it already replied) or from the rules here."""

    severity: int
    categories: tuple[str, ...]
    rule_ids: tuple[str, ...]
    escalation_id: str | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "categories": list(self.categories),
            "rule_ids": list(self.rule_ids),
            "escalation_id": self.escalation_id,
            "source": self.source,
        }


def from_gateway(metadata: Any, threshold: int) -> Finding | None:
    """The gateway's verdict in `metadata.safeguarding`, when it reaches the threshold."""
    if not isinstance(metadata, Mapping):
        return None
    verdict = metadata.get("safeguarding")
    if not isinstance(verdict, Mapping):
        return None
    try:
        severity = int(verdict.get("severity") or 0)
    except (TypeError, ValueError):
        return None
    if severity < threshold:
        return None
    escalation_id = verdict.get("escalation_id")
    return Finding(
        severity=severity,
        categories=tuple(str(c) for c in verdict.get("categories") or ()),
        rule_ids=tuple(str(r) for r in verdict.get("rule_ids") or ()),
        escalation_id=str(escalation_id) if escalation_id else None,
        source="gateway",
    )


def from_rules(verdict: safeguarding_rules.Verdict, threshold: int) -> Finding | None:
    """This component's own screening, when it escalates."""
    if not verdict.escalate(threshold):
        return None
    return Finding(verdict.severity, verdict.categories, verdict.rule_ids, None, "rules")


def gate(
    intent: Mapping[str, Any] | None,
    ranking: Sequence[Mapping[str, Any]],
    finding: Finding | None,
    text: str = "",
    min_confidence: float = MIN_CONFIDENCE,
) -> tuple[Intent | None, list[Intent]]:
    """Disclosure first at confidence 1.0 when found; otherwise the intent is never a disclosure.

    A dropped disclosure guess leaves the classifier's odds among the other intents (rescaled to
    sum as before), held to the intent guard's rules: a story of being bullied that the
    classifier read as a disclosure first and "what do you know about me?" second is an answer.
    """
    if finding is not None:
        return {"name": DISCLOSURE, "confidence": 1.0}, promote(ranking, DISCLOSURE, 1.0)
    if not intent or intent.get("name") != DISCLOSURE:
        return (dict(intent) if intent else None), [dict(r) for r in ranking]
    others = without(ranking, {DISCLOSURE})
    if not others:
        return None, others
    rest = sum(float(r.get("confidence") or 0.0) for r in others)
    if rest > 0:
        others = [{**r, "confidence": float(r.get("confidence") or 0.0) / rest} for r in others]
    return guard(text, others[0], others, GIVE_WAY, min_confidence)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SafeguardingGate(GraphComponent, IntentClassifier):
    """Sets `safeguarding_disclosure` from the gateway's verdict or the rules' own screening."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [IntentClassifier]

    def __init__(self, threshold: int) -> None:
        self._threshold = threshold

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SafeguardingGate:
        """Load the rules now (broken rules stop the server) and read the threshold.

        The threshold is the deployment's `YOUTHLINK_ESCALATE_AT`, as for the gateway, so both
        escalate at the same severity.
        """
        safeguarding_rules.load_ruleset()
        return cls(Settings.from_env().escalate_at)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            finding = from_gateway(message.get("metadata"), self._threshold)
            if finding is None:
                verdict = safeguarding_rules.screen(message.get("text") or "")
                finding = from_rules(verdict, self._threshold)
            intent, ranking = gate(
                message.get("intent"),
                message.get("intent_ranking") or [],
                finding,
                message.get("text") or "",
            )
            if intent is not None:
                message.set("intent", intent, add_to_output=True)
                message.set("intent_ranking", ranking, add_to_output=True)
            if finding is not None:
                message.set(OUTPUT_KEY, finding.as_dict(), add_to_output=True)
                logger.info(
                    "disclosure: severity=%d rules=%s source=%s",
                    finding.severity, ",".join(finding.rule_ids), finding.source,
                )  # fmt: skip
        return messages
