"""The intent guard: certain intents without guessing; unsure interruptions give way to answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.intent_guard import GIVE_WAY, INTERRUPTIONS, guard
from bot.keywords import certain_intent, is_gibberish

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

REPO = Path(__file__).resolve().parents[2]
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")  # [text](entity) -> text


def ranking(*pairs: tuple[str, float]) -> list[dict]:
    return [{"name": n, "confidence": c} for n, c in pairs]


def test_an_unsure_interruption_gives_way_to_the_best_answer() -> None:
    ranked = ranking(("out_of_scope", 0.3), ("inform", 0.25), ("affirm", 0.1))
    intent, new = guard("making some mates", ranked[0], ranked, INTERRUPTIONS, 0.4)
    assert intent == {"name": "inform", "confidence": 0.25}
    assert [r["name"] for r in new] == ["inform", "out_of_scope", "affirm"]


def test_a_confident_interruption_stands() -> None:
    ranked = ranking(("human_handoff", 0.8), ("inform", 0.1))
    intent, _ = guard("can i talk to a real person", ranked[0], ranked, INTERRUPTIONS, 0.4)
    assert intent == ranked[0]


def test_answers_are_left_alone() -> None:
    ranked = ranking(("inform", 0.3), ("stop", 0.2))
    assert guard("leo", ranked[0], ranked, INTERRUPTIONS, 0.4)[0] == ranked[0]


@pytest.mark.parametrize(
    ("text", "intent"),
    [("HELP", "get_help"), ("help!", "get_help"), ("Stop", "stop"), ("DELETE", "delete_data"),
     ("restart", "start_over"), ("PRIVACY", "privacy"), ("privacy?", "privacy"),
     ("privacy notice", "privacy"), ("👍", "affirm"), ("👍👍", "affirm"), ("❤️", "thanks"),
     ("👎", "deny"), ("asdfghjkl", "nonsense"),
     ("hdhdhdh", "nonsense"), ("???", "nonsense"), ("lol", "nonsense")],
)  # fmt: skip
def test_certain_intents_override_the_classifier(text: str, intent: str) -> None:
    ranked = ranking(("inform", 0.9))
    assert guard(text, ranked[0], ranked, INTERRUPTIONS, 0.4)[0] == {
        "name": intent,
        "confidence": 1.0,
    }
    assert certain_intent(text) == intent


@pytest.mark.parametrize(
    "text",
    [
        "Leo",
        "Krzysztof",
        "LS7",
        "m14",
        "14",
        "stop vaping",
        "help with my anger",
        "rhythm",
        "a lgbtq youth group",
        "👍 but not weekends",
    ],
)
def test_answers_are_never_taken_for_commands_or_mash(text: str) -> None:
    assert certain_intent(text) is None
    assert not is_gibberish(text)


@pytest.mark.parametrize(
    ("text", "command"),
    [("i cant stop crying", "stop"), ("i want to stop vaping", "stop"),
     ("i need help with my anger", "get_help"), ("need help making friends", "get_help"),
     ("i get no privacy at home", "privacy"), ("my stepdad doesnt respect my privacy", "privacy"),
     ("i never get any privacy", "privacy")],
)  # fmt: skip
def test_a_confident_command_about_their_life_gives_way(text: str, command: str) -> None:
    ranked = ranking((command, 0.92), ("inform", 0.05))
    assert guard(text, ranked[0], ranked, INTERRUPTIONS, 0.4)[0] == ranked[1]


@pytest.mark.parametrize(
    ("text", "command"),
    [("stop texting me", "stop"), ("i want to stop", "stop"), ("pls stop", "stop"),
     ("i need help now", "get_help"), ("help me please", "get_help")],
)  # fmt: skip
def test_commands_still_work(text: str, command: str) -> None:
    ranked = ranking((command, 0.9), ("inform", 0.05))
    assert guard(text, ranked[0], ranked, INTERRUPTIONS, 0.4)[0] == ranked[0]


def test_the_rights_commands_are_interruptions_that_give_way_when_unsure() -> None:
    assert {"privacy", "ask_my_data"} <= set(INTERRUPTIONS)
    ranked = ranking(("ask_my_data", 0.35), ("inform", 0.3))
    intent, _ = guard("my mum knows everything", ranked[0], ranked, INTERRUPTIONS, 0.4)
    assert intent == ranked[1]


@pytest.mark.parametrize(
    "text", ["is this private", "what happens to my info", "who sees this", "will you tell my mum"]
)
def test_questions_about_privacy_stand(text: str) -> None:
    ranked = ranking(("privacy", 0.8), ("inform", 0.1))
    assert guard(text, ranked[0], ranked, INTERRUPTIONS, 0.4)[0] == ranked[0]


@pytest.mark.parametrize(
    ("text", "guess"),
    [("get out more", "stop"), ("stop the panic attacks", "stop"), ("Glasgow", "goodbye"),
     ("Kit (he/they)", "greet"), ("can i ask a question first", "human_handoff"),
     ("make some friends, get out the house more", "out_of_scope"),
     ("start college in september", "start_over"), ("my mum forgot my birthday", "delete_data"),
     ("make it stop", "stop"), ("i just want it all to stop", "stop"),
     ("when the girls are at school, like 10-2", "out_of_scope"),
     ("what matters is my little brother", "out_of_scope"), ("yes its my number", "get_help"),
     ("theres girls in my year who keep sending stuff about me", "ask_my_data"),
     ("the group chat to stop", "stop"), ("i need the bullying to stop", "stop"),
     ("i want my mum to stop shouting", "stop"), ("tuesdays or thursdays", "thanks"),
     ("umm ok", "nonsense"), ("hmm yeah", "nonsense"), ("it stopping", "stop"),
     ("i mean... i dont really know what id say. but ok yeah", "ask_my_data"),
     ("got bullied in year 8 and i still have nightmares", "ask_my_data"),
     ("my mum wants me to do this", "privacy"), ("ok yes but can i stop if i want", "stop"),
     ("hes at work now so yes till later", "goodbye"),
     ("no please dont message this number, my dad checks it. dont contact me for now", "stop"),
     ("them stoppin", "stop"), ("mondays im off", "goodbye"), ("im off on fridays", "goodbye"),
     ("yes my dad says its fine to call or text this number", "get_help"),
     ("horses, i help out at the stables on sundays", "get_help"),
     ("i like helping people", "get_help")],
)  # fmt: skip
def test_a_confident_guess_that_says_nothing_of_its_kind_gives_way(text: str, guess: str) -> None:
    """Answers real young people gave to the bot's questions, read by the classifier as STOP,
    goodbye, a greeting, asking for a person or out of scope: they are still the answer."""
    ranked = ranking((guess, 0.99), ("inform", 0.01))
    assert guard(text, ranked[0], ranked, GIVE_WAY, 0.4)[0] == ranked[1]


@pytest.mark.parametrize(
    ("text", "intent"),
    [("i want you to stop messaging", "stop"), ("dont text me again", "stop"),
     ("please stop sending texts", "stop"), ("unsubscribe me", "stop"), ("bye", "goodbye"),
     ("gtg", "goodbye"), ("hiya", "greet"), ("can i talk to someone", "human_handoff"),
     ("whats the weather like", "out_of_scope"), ("can you do my homework", "out_of_scope"),
     ("are you a real person", "bot_challenge"), ("forget everything i said", "delete_data"),
     ("can we start again", "start_over"), ("i want these texts to stop", "stop"),
     ("make the messages stop", "stop"), ("i want the chat to stop", "stop"),
     ("cheers", "thanks"), ("ta x", "thanks"), ("ermmm", "nonsense")],
)  # fmt: skip
def test_an_interruption_in_its_own_words_stands(text: str, intent: str) -> None:
    ranked = ranking((intent, 0.9), ("inform", 0.05))
    assert guard(text, ranked[0], ranked, GIVE_WAY, 0.4)[0] == ranked[0]


def _nlu_examples() -> list[tuple[str, str]]:
    examples = []
    for path in sorted((REPO / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if item.get("intent") not in GIVE_WAY:
                continue
            for line in str(item["examples"]).splitlines():
                if line.startswith("- "):
                    examples.append((item["intent"], ANNOTATION.sub(r"\1", line[2:])))
    return examples


def test_every_training_example_of_a_guarded_intent_stands() -> None:
    """The guard's word lists hold every way the training data says each of these intents:
    a confident guess on one of them is never made to give way."""
    examples = _nlu_examples()
    assert len(examples) > 500
    dropped = []
    for intent, text in examples:
        ranked = ranking((intent, 0.9), ("inform", 0.05))
        if guard(text, ranked[0], ranked, GIVE_WAY, 0.4)[0]["name"] != intent:
            dropped.append((intent, text))
    assert dropped == []


def test_an_interruption_that_gives_way_among_only_interruptions_is_still_dropped() -> None:
    """Voice-to-text's "full stop" is not STOP, even when every other guess is an interruption."""
    text = "hello can you help me please full stop"
    ranked = ranking(("stop", 0.61), ("get_help", 0.2), ("greet", 0.18))
    assert guard(text, ranked[0], ranked, GIVE_WAY, 0.4)[0]["name"] == "get_help"
    ranked = ranking(("stop", 0.61), ("delete_data", 0.3))
    assert guard(text, ranked[0], ranked, GIVE_WAY, 0.4)[0]["name"] == "inform"
