"""The model behind the rules: features, scoring, the shipped file, and how its findings
join the rules' verdicts."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pytest

from safeguarding_rules import RuleSetError, load_ruleset
from safeguarding_rules.cli import main
from safeguarding_rules.loader import default_rules_dir, load_ruleset_dir
from safeguarding_rules.model import (
    MODEL_FILE,
    NONE,
    NORM_FLOOR,
    Model,
    features,
    read_model,
    to_json,
    weighted,
)
from safeguarding_rules.training import (
    Example,
    default_sources,
    read_examples,
    train,
    train_for,
)
from tests.support.evaldata import load_jsonl

pytestmark = pytest.mark.unit


# Disclosures the rules alone leave below the escalation threshold and the model catches.
MODEL_ONLY = {
    "i want him to feel what he did to me. i know where he lives": "harm_to_others",
    "the olders hold my phone when im out there so i cant ring no one": "criminal_exploitation",
    "i told my teacher and she didnt believe me that he comes in my room at night": (
        "sexual_abuse"
    ),
}


@pytest.fixture(scope="module")
def rules_only():  # type: ignore[no-untyped-def]
    return load_ruleset_dir(default_rules_dir(), with_model=False)


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return read_examples(default_sources())


@pytest.fixture(scope="module")
def retrained(examples: list[Example]) -> Model:
    return train_for(load_ruleset_dir(default_rules_dir(), with_model=False), examples)


def test_features_are_words_pairs_and_letter_pieces() -> None:
    found = features("i cut my arm")
    assert found["w:cut"] == 1 and found["b:<s> i"] == 1 and found["b:arm </s>"] == 1
    assert found["b:cut my"] == 1
    assert {" cu", "cut", "ut ", " cut", "cut ", " cut "} <= {k[2:] for k in found if k[:2] == "c:"}
    # A word or pair said again adds nothing (else "word " * 400 read as self-harm).
    assert features("cut cut")["w:cut"] == 1 and features("cut cut")["b:cut cut"] == 1
    assert features("cut it cut it") == features("cut it cut it cut it")
    assert features("a cut cat")["c:cut"] == 1 and features("cut cuts")["c:cut"] == 2


def test_weighted_adds_up_by_occurrence_and_drops_unknown_ngrams() -> None:
    counts = {"w:a": 3, "w:b": 1, "w:unknown": 5}
    vector = weighted(counts, {"w:a": 200.0, "w:b": 100.0})
    assert set(vector) == {"w:a", "w:b"}
    length = math.sqrt(3 * 200.0**2 + 100.0**2)
    assert vector == {"w:a": pytest.approx(600.0 / length), "w:b": pytest.approx(100.0 / length)}
    once = weighted({"w:a": 1, "w:b": 1}, {"w:a": 200.0, "w:b": 100.0})
    assert math.isclose(sum(v * v for v in once.values()), 1.0)  # unit length when all once
    assert weighted({"w:unknown": 1}, {"w:a": 1.0}) == {}


def test_scoring_works_word_by_word_as_the_weighting_says() -> None:
    """The scorer keeps each word's share; its logits are those of `weighted(features())`,
    repeated words and pairs included, cold and warm."""
    ruleset = load_ruleset()
    model = ruleset.model
    assert model is not None
    texts = ["i cut i cut and i cut again", "my dad my dad hits me", "lol", "x " * 50]
    idf, weights = model.idf, model.weights
    for text in texts * 2:
        normalised = ruleset.normalise(text)
        expected = list(model.bias) + ([model.now.bias] if model.now else [])
        for key, value in weighted(features(normalised), idf).items():
            expected = [e + value * w for e, w in zip(expected, weights[key], strict=True)]
        assert model._logits(normalised) == pytest.approx(expected, abs=1e-9)


def test_short_messages_are_not_scaled_up() -> None:
    vector = weighted({"w:a": 1}, {"w:a": 4.0})
    assert vector == {"w:a": 4.0 / NORM_FLOOR}


def test_no_everyday_word_alone_escalates(examples: list[Example]) -> None:
    """One word carries too little to page a lead: every word of every everyday example,
    sent alone or sixty times over, stays clear (before the floor, "and" alone read as sexual
    abuse; before repeats were dropped, "word " * 400 read as self-harm)."""
    ruleset = load_ruleset()
    assert ruleset.model is not None
    words = {w for e in examples if e.label == NONE for w in e.text.lower().split()}
    flagged = [w for w in sorted(words) if ruleset.model.findings(ruleset.normalise(w))]
    assert flagged == []
    repeated = [w for w in sorted(words) if ruleset.screen(f"{w} " * 60).severity >= 4]
    assert [w for w in repeated if ruleset.screen(w).severity < 4] == []
    assert ruleset.screen("and now?").severity == 0


def test_scoring_matches_scikit_learn(examples: list[Example]) -> None:
    """The pure-Python scorer gives scikit-learn's own probabilities for the same model."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    normalise = load_ruleset().normalise
    subset = examples[::7]
    model = train(subset, normalise)
    vectoriser = DictVectorizer()
    counted = [features(normalise(e.text)) for e in subset]
    idf = model.idf
    matrix = vectoriser.fit_transform([weighted(c, idf) for c in counted])
    fitted = LogisticRegression(C=10.0, max_iter=5000).fit(matrix, [e.label for e in subset])
    texts = ["i want to end it all tonight", "my dad hits me", "i like drawing", "lol"]
    probs = fitted.predict_proba(
        vectoriser.transform([weighted(features(normalise(t)), idf) for t in texts])
    )
    for text, row in zip(texts, probs, strict=True):
        ours = model.probabilities(normalise(text))
        for label, p in zip(fitted.classes_, row, strict=True):
            assert ours[str(label)] == pytest.approx(p, abs=1e-9)
    disclosures = [i for i, e in enumerate(subset) if e.label != NONE]
    assert {subset[i].now for i in disclosures} == {True, False}
    head = LogisticRegression(C=10.0, max_iter=5000, class_weight="balanced")
    head.fit(matrix[disclosures], [subset[i].now for i in disclosures])
    now = head.predict_proba(
        vectoriser.transform([weighted(features(normalise(t)), idf) for t in texts])
    )[:, 1]
    for text, p in zip(texts, now, strict=True):
        assert model.now_probability(normalise(text)) == pytest.approx(p, abs=1e-9)


def test_shipped_model_is_what_training_gives(retrained: Model, examples: list[Example]) -> None:
    """The committed model file matches the committed data; if this fails, retrain it with
    `make safeguarding-model` (docs/safeguarding-rules.md)."""
    shipped = load_ruleset().model
    assert shipped is not None
    assert shipped.classes == retrained.classes
    assert set(shipped.idf) == set(retrained.idf)
    normalise = load_ruleset().normalise
    for e in examples[::5]:
        ours, theirs = (
            shipped.probabilities(normalise(e.text)),
            retrained.probabilities(normalise(e.text)),
        )
        assert max(abs(ours[c] - theirs[c]) for c in ours) < 1e-3, e.text
        now = shipped.now_probability(normalise(e.text))
        now_again = retrained.now_probability(normalise(e.text))
        assert now is not None and now_again is not None
        assert abs(now - now_again) < 1e-3, e.text


def test_model_fits_its_training_data(examples: list[Example]) -> None:
    """A broken scorer or feature function shows here: the shipped model must read nearly
    every disclosure it was trained on and almost none of the rest."""
    ruleset = load_ruleset()
    assert ruleset.model is not None
    caught = wrong = disclosures = others = 0
    for e in examples:
        found = {f.category for f in ruleset.model.findings(ruleset.normalise(e.text))}
        if e.label == NONE:
            others += 1
            wrong += bool(found)
        else:
            disclosures += 1
            caught += e.label in found
    assert caught / disclosures > 0.8  # 0.84 when trained (threshold 0.85, C=10)
    assert wrong / others < 0.005  # 0.0 when trained


@pytest.mark.parametrize("text,category", sorted(MODEL_ONLY.items()))
def test_model_escalates_what_the_rules_miss(rules_only, text: str, category: str) -> None:  # type: ignore[no-untyped-def]
    assert rules_only.screen(text).severity < 4
    verdict = load_ruleset().screen(text)
    assert verdict.escalate() and category in verdict.categories
    assert f"model.{category}" in verdict.rule_ids and verdict.severity == 4


def test_risk_now_head_fits_its_training_data(examples: list[Example]) -> None:
    """Disclosures whose data asks for severity 5 mostly read as risk now; the rest mostly
    do not (a broken head or column shows here)."""
    ruleset = load_ruleset()
    model = ruleset.model
    assert model is not None and model.now is not None
    now = [e for e in examples if e.label != NONE and e.now]
    later = [e for e in examples if e.label != NONE and not e.now]
    assert len(now) > 200 and len(later) > 1000

    def share(part: list[Example]) -> float:
        return sum(model.read(ruleset.normalise(e.text)).now for e in part) / len(part)

    assert share(now) > 0.85
    assert share(later) < 0.2


def test_risk_now_raises_an_escalation_to_five(rules_only) -> None:  # type: ignore[no-untyped-def]
    text = "going to end it all"
    assert rules_only.screen(text).severity == 4
    verdict = load_ruleset().screen(text)
    assert verdict.severity == 5 and verdict.rule_ids[0] == "model.now.suicide"
    assert load_ruleset().screen_conversation(["hey", text]).severity == 5


def test_risk_now_never_raises_a_message_that_does_not_escalate() -> None:
    from safeguarding_rules.ruleset import RuleSet, _Finding

    concern = [_Finding("substance_misuse.risky_use", "substance_misuse", 3)]
    assert RuleSet._now(concern, []) == []
    assert RuleSet._now([], []) == []
    already = [_Finding("suicide.plan", "suicide", 5)]
    assert RuleSet._now(already, []) == []
    four = [_Finding("abuse.a", "abuse", 4), _Finding("suicide.b", "suicide", 4)]
    assert [f.id for f in RuleSet._now(four, [])] == ["model.now.suicide"]


def test_model_never_lowers_a_rule(rules_only) -> None:  # type: ignore[no-untyped-def]
    ruleset = load_ruleset()
    for case in load_jsonl("safeguarding_dev.jsonl"):
        text = case["text"]
        alone, both = rules_only.screen(text), ruleset.screen(text)
        assert both.severity >= alone.severity
        assert set(alone.rule_ids) <= set(both.rule_ids)


def test_model_findings_stand_in_the_conversation_verdict() -> None:
    text = next(iter(MODEL_ONLY))
    verdict = load_ruleset().screen_conversation(["hi", text, "ok"])
    assert verdict.severity == 4 and "model.harm_to_others" in verdict.rule_ids


def test_model_defers_to_a_rule_that_judged_the_category() -> None:
    """A rule that matched and put its category below paging knows that wording: "smoking
    weed every day" is a concern for the referral, not a page."""
    ruleset = load_ruleset()
    assert ruleset.model is not None
    text = "i smoke weed every day and its messing up college"
    read = {f.category for f in ruleset.model.findings(ruleset.normalise(text))}
    assert "substance_misuse" in read
    verdict = ruleset.screen(text)
    assert verdict.severity == 3 and "model.substance_misuse" not in verdict.rule_ids


# Told over several messages, none of which pages alone, and no rule matches the whole.
TOLD_IN_PARTS = [
    "whats been going on, a party on saturday",
    "i was really drunk",
    "his mate took me upstairs",
    "i kept saying no",
]


def test_model_reads_a_disclosure_told_over_several_messages() -> None:
    ruleset = load_ruleset()
    for i, text in enumerate(TOLD_IN_PARTS):
        assert not ruleset.screen(text).escalate(), text
        if i < len(TOLD_IN_PARTS) - 1:
            assert not ruleset.screen(text, TOLD_IN_PARTS[:i]).escalate(), text
    last = ruleset.screen(TOLD_IN_PARTS[-1], TOLD_IN_PARTS[:-1])
    assert last.escalate() and "model.sexual_abuse" in last.rule_ids
    rules_alone = load_ruleset_dir(default_rules_dir(), with_model=False)
    assert rules_alone.screen_conversation(TOLD_IN_PARTS).severity < 4
    ruleset.read_window = False
    try:
        assert not ruleset.screen_conversation(TOLD_IN_PARTS).escalate()
    finally:
        ruleset.read_window = True


def test_the_window_adds_only_what_the_new_message_completes() -> None:
    """When the earlier messages read as a disclosure on their own, it was reported when they
    arrived; the next message does not report it again."""
    ruleset = load_ruleset()
    earlier = " ".join(TOLD_IN_PARTS)
    assert "model.sexual_abuse" in ruleset.screen(earlier).rule_ids
    assert "model.sexual_abuse" not in ruleset.screen("ok", [earlier]).rule_ids


def test_the_window_defers_to_a_rule_that_judged_the_category() -> None:
    turns = ["smoking weed every day", "drinking a lot at weekends", "i keep getting wasted"]
    ruleset = load_ruleset()
    assert ruleset.model is not None
    joined = ruleset.normalise(" ".join(turns))
    assert "substance_misuse" in {f.category for f in ruleset.model.findings(joined)}
    verdict = ruleset.screen_conversation(turns)
    assert verdict.severity == 3 and "model.substance_misuse" not in verdict.rule_ids


def test_everyday_answers_stay_clear() -> None:
    ruleset = load_ruleset()
    for text in ["i like football and gaming", "my mum shouts about my room", "lol ok", ""]:
        assert ruleset.screen(text).severity < 4, text


def test_model_file_round_trips(tmp_path: Path, retrained: Model) -> None:
    path = tmp_path / MODEL_FILE
    path.write_text(to_json(retrained, {"examples": {}}))
    loaded, problems = read_model(path)
    assert problems == [] and loaded is not None
    assert loaded.classes == retrained.classes and loaded.threshold == retrained.threshold
    text = "i keep thinking about ending it"
    ours, theirs = loaded.probabilities(text), retrained.probabilities(text)
    assert max(abs(ours[c] - theirs[c]) for c in ours) < 1e-3


@pytest.mark.parametrize(
    "edit,reason",
    [
        (lambda d: d.update(format="something else"), "not a model file"),
        (lambda d: d.update(classes=["suicide", "nope", "none"]), "unknown categories: nope"),
        (lambda d: d.update(bias=[0.0]), "bias must hold"),
        (lambda d: d.update(threshold=1.5), "threshold must be"),
        (lambda d: d["rows"].update({"w:x": [1.0, [1]]}), "row 'w:x' must be"),
        (lambda d: d.update(now={"bias": 0.0, "threshold": 2}), "now must be"),
        (lambda d: d.pop("now"), "must be [idf, [10 weights]]"),
    ],
)
def test_a_broken_model_file_stops_loading(rules_copy: Path, edit, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = rules_copy / MODEL_FILE
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(RuleSetError) as caught:
        load_ruleset_dir(rules_copy, cache_path=None)
    assert MODEL_FILE in str(caught.value) and reason in str(caught.value)


def test_a_model_file_reads_the_same_a_row_per_line_or_as_any_json(
    tmp_path: Path, retrained: Model
) -> None:
    lined = tmp_path / "lined.json"
    lined.write_text(to_json(retrained, {"examples": {}}))
    assert len(lined.read_text().splitlines()) == retrained.size + 2  # header, rows, end
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(json.loads(lined.read_text()), indent=1))
    (a, problems_a), (b, problems_b) = read_model(lined), read_model(whole)
    assert problems_a == problems_b == [] and a is not None and b is not None
    assert a.idf == b.idf and a.weights == b.weights and a.size == retrained.size
    text = "nobody would care if i was gone"
    assert a.probabilities(text) == b.probabilities(text)


@pytest.mark.parametrize(
    "line,reason",
    [
        ('"w:x": [1.0, [1]],', "row 'w:x' must be [idf, ["),
        ('"w:x": [1.0, ["a", 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]],', "row 'w:x' must be"),
        ('"w:x": [1.0, [1, 2],', "model file unreadable"),
    ],
)
def test_a_broken_row_line_stops_loading(rules_copy: Path, line: str, reason: str) -> None:
    path = rules_copy / MODEL_FILE
    lines = path.read_text().split("\n")
    lines.insert(len(lines) // 2, line)
    path.write_text("\n".join(lines))
    with pytest.raises(RuleSetError) as caught:
        load_ruleset_dir(rules_copy, cache_path=None)
    assert MODEL_FILE in str(caught.value) and reason in str(caught.value)


def test_a_model_file_without_rows_stops_loading(rules_copy: Path) -> None:
    path = rules_copy / MODEL_FILE
    lines = path.read_text().split("\n")
    path.write_text("\n".join([lines[0], "}}", ""]))
    with pytest.raises(RuleSetError, match="rows must map n-grams"):
        load_ruleset_dir(rules_copy, cache_path=None)


def test_unreadable_model_file(rules_copy: Path) -> None:
    (rules_copy / MODEL_FILE).write_text("{not json")
    with pytest.raises(RuleSetError, match="model file unreadable"):
        load_ruleset_dir(rules_copy, cache_path=None)


def test_rules_work_without_a_model(rules_copy: Path) -> None:
    (rules_copy / MODEL_FILE).unlink()
    ruleset = load_ruleset_dir(rules_copy, cache_path=None)
    assert ruleset.model is None
    assert ruleset.version != load_ruleset().version
    assert ruleset.screen("kms").rule_ids == ("suicide.intent.kill_myself",)
    assert ruleset.screen(next(iter(MODEL_ONLY))).severity < 4


def test_train_model_command(tmp_path: Path, rules_copy: Path) -> None:
    data = tmp_path / "cases.jsonl"
    lines = [
        {"text": t, "expect": "escalate", "category": "suicide"}
        for t in ["i want to die", "i want to end my life", "going to kill myself"]
    ] + [{"text": t, "expect": "benign"} for t in ["i like football", "hello", "i want a dog"]]
    data.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = tmp_path / "model.json"
    assert (
        main(["train-model", "--rules", str(rules_copy), "--data", str(data), "--out", str(out)])
        == 0
    )
    model, problems = read_model(out)
    assert problems == [] and model is not None
    assert set(model.classes) == {"suicide", NONE}
    header = json.loads(out.read_text().splitlines()[0] + "}}")
    assert header["examples"] == {"none": 3, "suicide": 3}


def test_train_model_command_without_data(tmp_path: Path, rules_copy: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    assert main(["train-model", "--rules", str(rules_copy), "--data", str(missing)]) == 1
    shutil.rmtree(rules_copy)
    assert main(["train-model", "--rules", str(rules_copy)]) == 2


def test_check_reports_the_model(rules_copy: Path) -> None:
    from safeguarding_rules.check import run_check
    from safeguarding_rules.contacts import default_contacts_path
    from safeguarding_rules.replies import default_replies_path

    def report() -> str:
        today = dt.date(2026, 11, 29)
        return run_check(
            rules_copy, default_contacts_path(), default_replies_path(), today
        ).render()

    assert "pages at 85% sure" in report()
    (rules_copy / MODEL_FILE).unlink()
    assert "model: none (the rules alone)" in report()
