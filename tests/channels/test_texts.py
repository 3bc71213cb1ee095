"""Pure text handling: cleaning, truncation, slash escaping, HELP."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.texts import clean_text, escape_slash, is_help, truncate_for_rasa

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("typed", "offered", "relayed"),
    [
        ("/affirm", {"/affirm"}, "/affirm"),
        ("  /affirm ", {"/affirm"}, "/affirm"),
        ("/affirm", set(), "affirm"),
        ("/restart", {"/affirm"}, "restart"),
        ('/inform{"age":"30"}', {"/affirm"}, 'inform{"age":"30"}'),
        ("//  /stop", set(), "stop"),
        ("/", set(), "?"),
        ("yes / no", set(), "yes / no"),
        ("hello", {"/affirm"}, "hello"),
    ],
)
def test_escape_slash(typed: str, offered: set[str], relayed: str) -> None:
    assert escape_slash(typed, offered) == relayed


@given(text=st.text(), offered=st.sets(st.text(min_size=1).map(lambda s: "/" + s), max_size=3))
def test_nothing_unoffered_reaches_rasa_as_an_intent(text: str, offered: set[str]) -> None:
    relayed = escape_slash(text, offered)
    assert not relayed.lstrip().startswith("/") or relayed in offered


@given(st.text(max_size=5000))
def test_truncation_is_a_prefix_within_the_limit(text: str) -> None:
    cut = truncate_for_rasa(text, 200)
    assert len(cut) <= 200
    assert text.startswith(cut)
    if len(text) <= 200:
        assert cut == text


def test_truncation_prefers_a_word_boundary() -> None:
    assert truncate_for_rasa("aaaa bbbb cccc", 11) == "aaaa bbbb"


@given(st.text())
def test_clean_text_is_always_valid_utf8_without_controls(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned
    assert cleaned == cleaned.strip()


@pytest.mark.parametrize("text", ["HELP", "help", " Help! ", "help me", "HELP?"])
def test_help(text: str) -> None:
    assert is_help(text)


@pytest.mark.parametrize("text", ["i need help with school", "helpful", "", "no"])
def test_not_help(text: str) -> None:
    assert not is_help(text)
