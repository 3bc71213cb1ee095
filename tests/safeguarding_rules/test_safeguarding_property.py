"""No input, however odd or long, makes screening raise or take long."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safeguarding_rules import CATEGORIES, RuleSet, load_ruleset

pytestmark = pytest.mark.unit

# Generous for a loaded CI machine; typical is well under 1 ms for 160 characters and a
# few milliseconds for 10,000 (see bench/bench_safeguarding.py).
LIMIT_SECONDS = 0.050

_RULESET = load_ruleset()
_TRICKY = st.sampled_from(
    [*"k1ll!@$*.-_ 'sh💊🔪😂\u200b\nіа", "kms", "s h", "i ", "self ", "d!e", "🏳️\u200d🌈"]
)
_TEXT = st.one_of(
    st.text(max_size=10_000),
    st.lists(_TRICKY, max_size=3000).map("".join),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=10_000),
)


def _check(verdict: object, ruleset: RuleSet) -> None:
    assert 0 <= verdict.severity <= 5  # type: ignore[attr-defined]
    assert set(verdict.categories) <= set(CATEGORIES)  # type: ignore[attr-defined]
    assert verdict.ruleset_version == ruleset.version  # type: ignore[attr-defined]
    assert (verdict.severity == 0) == (not verdict.rule_ids)  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT)
def test_any_text_screens_quickly(text: str) -> None:
    start = time.perf_counter()
    verdict = _RULESET.screen(text)
    elapsed = time.perf_counter() - start
    _check(verdict, _RULESET)
    assert elapsed < LIMIT_SECONDS, f"{elapsed * 1000:.1f} ms for {len(text)} characters"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(turns=st.lists(st.text(max_size=300), max_size=12))
def test_any_conversation_screens(turns: list[str]) -> None:
    verdict = _RULESET.screen_conversation(turns)
    _check(verdict, _RULESET)
    if turns:
        last = _RULESET.screen(turns[-1], turns[:-1])
        assert last.severity <= verdict.severity


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=500), extra=st.text(max_size=200))
def test_more_text_after_a_disclosure_never_hides_it(text: str, extra: str) -> None:
    disclosure = _RULESET.screen(f"{text} i want to kill myself {extra}")
    assert disclosure.escalate() and "suicide" in disclosure.categories


def test_long_adversarial_inputs_stay_fast() -> None:
    cases = [
        "a " * 5000,
        "k m s " * 1600,
        "i want to " * 1000,
        "my dad " * 1400,
        "😂" * 10_000,
        "s.h." * 2500,
        "he" + " " * 9990 + "hits me",
        "x" * 10_000,
    ]
    for text in cases:
        start = time.perf_counter()
        _RULESET.screen(text)
        assert time.perf_counter() - start < LIMIT_SECONDS * 4, text[:20]
