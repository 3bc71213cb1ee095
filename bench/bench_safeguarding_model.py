"""Benchmark the model behind the safeguarding rules on wording it has not seen.

Run from the repository root:  python bench/bench_safeguarding_model.py

`tests/safeguarding_rules/unseen_cases.jsonl` was written by people who had not read the
rules, and scored before anything was changed for it. Here the model is trained without it
and both readers are scored on it: the rules alone, and the rules with the model. Then the
same with half of it added to the training data and the other half scored (both ways
round), to show what such sets add, and each round (u4 to u10) scored by a model trained on
the rounds before it only; and the conversations in `unseen_conversations.jsonl`, with the
model reading each message alone and also the recent window. Prints plain text.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from safeguarding_rules.loader import default_rules_dir, load_ruleset_dir  # noqa: E402
from safeguarding_rules.model import Model  # noqa: E402
from safeguarding_rules.ruleset import RuleSet  # noqa: E402
from safeguarding_rules.training import (  # noqa: E402
    THRESHOLD,
    Example,
    default_sources,
    read_examples,
    train_for,
)

UNSEEN = REPO / "tests" / "safeguarding_rules" / "unseen_cases.jsonl"
CONVERSATIONS = REPO / "tests" / "safeguarding_rules" / "unseen_conversations.jsonl"
ANSWERS = REPO / "tests" / "actions" / "data" / "category_cases.yml"
DEV = REPO.parent / "shared" / "eval" / "safeguarding_dev.jsonl"
THRESHOLDS = (0.5, 0.7, 0.8, 0.85, 0.9)


def read_cases(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def score(ruleset: RuleSet, cases: Sequence[dict]) -> dict[str, float]:
    """Share of disclosures escalated with their category, of severity-5 ones scored 5, and
    of near misses escalated."""
    caught = any_caught = five = five_total = alarms = disclosures = benign = raised = 0
    for case in cases:
        verdict = ruleset.screen(case["text"])
        if case["expect"] == "escalate":
            disclosures += 1
            any_caught += verdict.escalate()
            caught += verdict.escalate() and case["category"] in verdict.categories
            if case.get("min_severity") == 5:
                five_total += 1
                five += verdict.severity == 5
            else:
                raised += verdict.severity == 5
        else:
            benign += 1
            alarms += verdict.escalate()
    return {
        "recall": caught / disclosures,
        "escalated": any_caught / disclosures,
        "five": five / five_total if five_total else float("nan"),
        "five_unmarked": raised / (disclosures - five_total) if disclosures > five_total else 0.0,
        "false_alarms": alarms / benign,
        "n": disclosures,
        "m": benign,
    }


def line(name: str, s: dict[str, float]) -> str:
    return (
        f"  {name:<34} recall {s['recall']:.3f} (any category {s['escalated']:.3f}), "
        f"severity 5 where due {s['five']:.3f} (where not {s['five_unmarked']:.3f}), "
        f"false alarms {s['false_alarms']:.3f}"
        f"  [{s['n']} disclosures, {s['m']} near misses]"
    )


def score_conversations(ruleset: RuleSet, cases: Sequence[dict]) -> str:
    """Disclosures escalated with their category by the end of the conversation, severity 5
    where due, and near-miss conversations escalated at any point."""
    caught = five = five_total = alarms = disclosures = 0
    for case in cases:
        verdict = ruleset.screen_conversation(case["turns"])
        if case["expect"] != "escalate":
            alarms += verdict.escalate()
            continue
        disclosures += 1
        caught += verdict.escalate() and case["category"] in verdict.categories
        if case.get("min_severity") == 5:
            five_total += 1
            five += verdict.severity == 5
    benign = len(cases) - disclosures
    return (
        f"recall {caught / disclosures:.3f}, severity 5 where due {five / max(five_total, 1):.3f}"
        f", near misses escalated {alarms / max(benign, 1):.3f}"
        f"  [{disclosures} disclosures, {benign} near misses]"
    )


def with_model(rules: RuleSet, model: Model | None) -> RuleSet:
    rules.model = model
    return rules


def by_group(rules: RuleSet, model: Model, cases: Sequence[dict]) -> None:
    # Rounds 4 and 5 were written per group of categories (ids u4-s..., u4-a..., u4-x...);
    # later rounds are split by style instead, so only those two are grouped here.
    cases = [c for c in cases if c["id"].split("-")[0] in ("u4", "u5")]
    groups = {
        "s": "suicide, self-harm, eating",
        "a": "abuse, sexual abuse",
        "x": "exploitation, harm, drugs, danger",
    }
    for key, name in groups.items():
        part = [c for c in cases if c["id"].split("-")[1].startswith(key)]
        alone = score(with_model(rules, None), part)
        both = score(with_model(rules, model), part)
        print(
            f"  {name:<34} rules {alone['recall']:.3f} / {alone['false_alarms']:.3f}"
            f"  with the model {both['recall']:.3f} / {both['false_alarms']:.3f}"
        )


def main() -> None:
    rules = load_ruleset_dir(default_rules_dir(), with_model=False)
    sources = [p for p in default_sources() if p != UNSEEN]
    base = read_examples(sources)
    unseen = read_cases(UNSEEN)
    print(f"training examples without the unseen set: {len(base)}; unseen: {len(unseen)}")

    started = time.process_time()
    model = train_for(rules, base)
    print(f"trained in {time.process_time() - started:.1f} s CPU; {model.size} n-grams")

    print("\nunseen set, model trained without it:")
    print(line("rules alone", score(with_model(rules, None), unseen)))
    for threshold in THRESHOLDS:
        model.threshold = threshold
        shipped = " (shipped)" if threshold == THRESHOLD else ""
        print(
            line(f"rules + model at {threshold}{shipped}", score(with_model(rules, model), unseen))
        )
    model.threshold = THRESHOLD
    print(f"\nrounds 4 and 5 by group (recall / false alarms), threshold {THRESHOLD}:")
    by_group(rules, model, unseen)

    print("\nhalf the unseen set added to training, the other half scored (both halves):")
    totals: dict[str, list[dict[str, float]]] = {"rules": [], "model": []}
    for half in (0, 1):
        train_part = [c for i, c in enumerate(unseen) if i % 2 == half]
        test_part = [c for i, c in enumerate(unseen) if i % 2 != half]
        extra = [
            Example(c["text"], c["category"] if c["expect"] == "escalate" else "none")
            for c in train_part
        ]
        half_model = train_for(rules, [*base, *extra])
        totals["rules"].append(score(with_model(rules, None), test_part))
        totals["model"].append(score(with_model(rules, half_model), test_part))
    for key, name in (("rules", "rules alone"), ("model", f"rules + model at {THRESHOLD}")):
        mean = {k: sum(s[k] for s in totals[key]) / 2 for k in totals[key][0]}
        print(line(name, mean))

    print("\neach round, model trained on the rounds before it only (as a new round meets it):")
    # In the order they were written: u4 ... u9, u10 (not as text, where u10 sorts first).
    rounds = sorted({c["id"].split("-")[0] for c in unseen}, key=lambda r: int(r[1:]))
    for i, name in enumerate(rounds):
        earlier = [
            Example(c["text"], c["category"] if c["expect"] == "escalate" else "none")
            for c in unseen
            if c["id"].split("-")[0] in rounds[:i]
        ]
        part = [c for c in unseen if c["id"].startswith(name + "-")]
        round_model = train_for(rules, [*base, *earlier])
        before = ", ".join(rounds[:i]) or "none"
        print(f"  round {name} ({len(part)} messages; trained on {before})")
        print(line("  rules alone", score(with_model(rules, None), part)))
        print(line(f"  rules + model at {THRESHOLD}", score(with_model(rules, round_model), part)))

    print("\nreferral answers (what's going on, what they enjoy), half held out (both halves):")
    answers = read_examples([ANSWERS])
    rest = read_examples([p for p in sources if p != ANSWERS])
    raised = {"rules alone": 0, f"rules + model at {THRESHOLD}": 0}
    for half in (0, 1):
        kept = [e for i, e in enumerate(answers) if i % 2 == half]
        held = [e for i, e in enumerate(answers) if i % 2 != half]
        half_model = train_for(rules, [*rest, *kept])
        for name, model_used in zip(raised, (None, half_model), strict=True):
            checked = with_model(rules, model_used)
            raised[name] += sum(checked.screen(e.text).escalate() for e in held)
    for name, count in raised.items():
        print(f"  {name:<34} escalated {count} of {len(answers)} ({count / len(answers):.3f})")

    conversations = read_cases(CONVERSATIONS)
    # The shipped model: conversations are never part of its training data.
    shipped = load_ruleset_dir(default_rules_dir())
    print("\nconversations (disclosures told over several messages; never in the training data):")
    print(f"  {'rules alone':<34} {score_conversations(with_model(rules, None), conversations)}")
    for name, window in (
        ("rules + model, each message", False),
        ("rules + model, and the window", True),
    ):
        shipped.read_window = window
        print(f"  {name:<34} {score_conversations(shipped, conversations)}")
    shipped.read_window = True

    if DEV.exists():
        dev = read_cases(DEV)
        print("\nshared development set (the shipped model; not in its training data):")
        print(line("rules alone", score(with_model(rules, None), dev)))
        print(line("rules + shipped model", score(shipped, dev)))

    texts = [c["text"] for c in unseen]
    for name, ruleset in (("rules alone", with_model(rules, None)), ("rules + model", shipped)):
        started = time.process_time()
        for _ in range(3):
            for text in texts:
                ruleset.screen(text)
        spent = (time.process_time() - started) / (3 * len(texts))
        print(
            f"\nscreening, {name}: {spent * 1e6:.0f} µs CPU per message ({1 / spent:,.0f} msgs/s)"
        )


if __name__ == "__main__":
    main()
