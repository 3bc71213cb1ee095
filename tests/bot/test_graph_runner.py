"""The model's graphs give the same results run directly as run by dask (the trained model)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.graph_runner import _original_run, run

MODEL = Path(__file__).resolve().parents[2] / "models" / "youthlink.tar.gz"

TEXTS = [
    "hi", "yes", "no", "skip", "15", "im 19", "call me Sam", "HELP", "stop", "delete my data",
    "my mum and dad argue all the time and i cant sleep", "i like football and drawing 🎨",
    "asdfghjkl", "i want to talk to a person", "what do you know about me", "Leeds",
    "after school is best", "i feel like nobody would notice if i was gone", "👍", "ok 👌🏽",
]  # fmt: skip


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent.load(str(MODEL))


def both(runner: DaskGraphRunner, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return _original_run(runner, **kwargs), run(runner, **kwargs)


def test_each_message_is_parsed_the_same(agent: Agent) -> None:
    processor = agent.processor
    assert processor is not None
    target = processor.model_metadata.nlu_target
    for text in TEXTS:
        tracker = DialogueStateTracker("graph-runner-test", [])
        message = UserMessage(text, sender_id=tracker.sender_id)
        inputs = {PLACEHOLDER_MESSAGE: [message], PLACEHOLDER_TRACKER: tracker}
        dask_result, direct_result = both(processor.graph_runner, inputs=inputs, targets=[target])
        assert direct_result.keys() == dask_result.keys() == {target}
        (by_dask,), (direct,) = dask_result[target], direct_result[target]
        assert direct.data == by_dask.data, text
        assert direct.data["intent"]["name"]


def test_each_prediction_is_the_same(agent: Agent) -> None:
    processor = agent.processor
    assert processor is not None and agent.domain is not None
    target = processor.model_metadata.core_target
    tracker = DialogueStateTracker("graph-runner-test", agent.domain.slots)
    compared = 0
    for text in TEXTS[:8]:
        parsed = asyncio.run(
            processor.parse_message(UserMessage(text, sender_id=tracker.sender_id))
        )
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(text, parsed["intent"], parsed["entities"], parsed))
        for _ in range(3):
            inputs = {PLACEHOLDER_TRACKER: tracker}
            dask_result, direct_result = both(
                processor.graph_runner, inputs=inputs, targets=[target]
            )
            by_dask, direct = dask_result[target], direct_result[target]
            assert vars(direct) == vars(by_dask)
            compared += 1
            action = agent.domain.action_names_or_texts[direct.max_confidence_index]
            if action == "action_listen":
                break
            tracker.update(ActionExecuted(action))
    assert compared >= 8
