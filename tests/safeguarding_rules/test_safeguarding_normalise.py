"""Normalisation: how messages read by the time the rules see them."""

from __future__ import annotations

import pytest

from safeguarding_rules import RuleSet

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "reads"),
    [
        ("I WANT TO DIE", "i want to die"),
        ("i want to diiieeee", "i want to die"),
        ("kiiiiilll myselfff", "kil myself"),
        ("Je suis désolé", "je suis desole"),
        ("ｋｉｌｌ myself", "kil myself"),
        ("kіll myself", "kil myself"),  # Cyrillic і
        ("k\u200bill myself", "kil myself"),  # zero-width space
        ("don't tell anyone", "dont tel anyone"),
        ("i’m scared", "im scared"),
        ("i am gonna do it", "im going to do it"),
        ("ima do it", "im going to do it"),
        ("wanna 2 die", "want to die"),
        ("kms", "kil myself"),
        ("i wanna ctb", "i want to kil myself"),
        ("i want to self-delete", "i want to kil myself"),
        ("sewer slide", "suicide"),
        ("no one would miss me", "nobody would mis me"),
        ("idk", "i dont know"),
        ("self-harm", "self harm"),
        ("i was sa'd", "i was sexualy asaulted"),
        ("i od'd", "i overdosed"),
        ("that's a bit odd", "thats a bit strange"),
        ("that was ott", "that was over the top"),
        ("i literally just want to die", "i want to die"),
        ("💊💊", "pils pils"),
        ("🔪 in my bag", "knife in my bag"),
        ("🩸", "blod"),
        ("🪢", "rope"),
        ("im dead 😂", "im dead lol"),
        ("he wants £200", "he wants pounds 200"),
        ("im cuttin again", "im cuting again"),
        ("hes followin me", "hes folowing me"),
        ("the thing is im thin", "the thing is im thin"),
        ("im 14yo", "im 14 yo"),
        # A filler last in the message says it is meant; anywhere else it is dropped.
        ("i could kill my brother fr", "i could kil my brother for real"),
        ("i could kill him deadass!!", "i could kil him for real"),
        ("i fr want to die", "i want to die"),
        ("fr", "for real"),
        ("fr 😂", "lol"),
        ("pure starvin masel n am blackin oot", "pure starving myself n am blacking out"),
    ],
)
def test_reads_as(ruleset: RuleSet, text: str, reads: str) -> None:
    assert ruleset.normalise(text).split("\n")[0] == reads


@pytest.mark.parametrize(
    ("text", "reads"),
    [
        ("it's on my arm comma dont tell full stop", "its on my arm dont tel"),
        ("is this normal question mark", "is this normal"),
        ("help me exclamation mark exclamation mark", "help me"),
        ("Full stop. I'm on the bridge", "im on the bridge"),
        ("my nan is in a coma", "my nan is in a coma"),  # only the dictated word is dropped
        ("a full stomach", "a ful stomach"),
    ],
)
def test_dictated_punctuation_is_dropped(ruleset: RuleSet, text: str, reads: str) -> None:
    """Voice-to-text writes punctuation out as words; it reads as punctuation does (nothing)."""
    assert ruleset.normalise(text).split("\n")[0] == reads


def test_dictated_punctuation_does_not_hide_a_disclosure(ruleset: RuleSet) -> None:
    text = "on the platform full stop the fast one comes through at ten past full stop sorry"
    verdict = ruleset.screen(text)
    assert verdict.severity == 5 and "suicide" in verdict.categories


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("k1ll myself", "kil myself"),
        ("I'm going to k!ll myself", "im going to kil myself"),
        ("i want to d!e", "i want to die"),
        ("de@th", "death"),
        ("sh!t", "shit"),
        ("$uicide", "suicide"),
        ("k m s", "kil myself"),
        ("i k m s", "i kil myself"),
        ("s.h urges", "sh urges"),
        ("s-u-i-c-i-d-e", "suicide"),
        ("r*pe", "rape"),
        ("s**cide", "suicide"),
        ("ki11 myself", "kil myself"),
    ],
)
def test_tricks_get_a_decoded_reading(ruleset: RuleSet, text: str, decoded: str) -> None:
    readings = ruleset.normalise(text).split("\n")
    assert decoded in readings


def test_plain_messages_have_one_reading(ruleset: RuleSet) -> None:
    assert "\n" not in ruleset.normalise("i like football and my mates, i'm 14")


def test_numbers_stay_numbers_in_the_first_reading(ruleset: RuleSet) -> None:
    assert ruleset.normalise("im 14 and hes 19").split("\n")[0] == "im 14 and hes 19"


def test_output_is_plain_ascii_words(ruleset: RuleSet) -> None:
    out = ruleset.normalise("Ça va?? 🤷‍♀️ «quoted» — 你好 l33t!!!")
    assert out.isascii()
    for line in out.split("\n"):
        assert line == " ".join(line.split())
        assert all(ch.isalnum() or ch == " " for ch in line)


@pytest.mark.parametrize(
    "text",
    ["i want to diiieee", "I WANT TO DIE!!!", "i want 2 d!e", "i w a n t to die", "wanna die"],
)
def test_disguised_messages_still_escalate(ruleset: RuleSet, text: str) -> None:
    verdict = ruleset.screen(text)
    assert verdict.escalate() and "suicide" in verdict.categories
