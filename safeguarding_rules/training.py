"""Training the model behind the rules (offline; needs scikit-learn, in the app environment).

Examples are labelled messages: a safeguarding category for a disclosure, ``none`` for
everything else. They come from the hard cases the rules are tested on, the sets written
for the model, the answers the category mapping is tested on (what's been going on, what
they enjoy) and the NLU examples of every intent but ``safeguarding_disclosure`` (how young
people answer the bot's questions). Only synthetic text: nothing a real young person sent is
ever used.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from safeguarding_rules.model import NONE, Model, NowHead, features, to_json, weighted
from safeguarding_rules.ruleset import RuleSet

# Chosen on sets the model had not seen (docs/benchmarks.md): a disclosure must be at least
# this likely, and a category at least this share of the likeliest one's probability.
THRESHOLD = 0.85
SHARE = 0.3
# The risk-now head says yes from this probability (docs/benchmarks.md).
NOW_THRESHOLD = 0.6
C = 10.0
MIN_COUNT = 2  # an n-gram must occur in this many examples to be kept

_NLU_ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Example:
    """A labelled message: a category, or ``none``; ``now`` when it is risk now (its data
    asks for severity 5)."""

    text: str
    label: str
    now: bool = False


def repo_root() -> Path:
    """The project's root (the package sits in it)."""
    return Path(__file__).resolve().parent.parent


def default_sources() -> list[Path]:
    """The labelled data the shipped model is trained on."""
    root = repo_root()
    cases = root / "tests" / "safeguarding_rules"
    return [
        cases / "safeguarding_cases.yml",
        cases / "unseen_cases.jsonl",
        root / "tests" / "actions" / "data" / "category_cases.yml",
        root / "tests" / "e2e" / "data" / "referrals_fresh.jsonl",
        *sorted((root / "nlu").glob("*.yml")),
    ]


def read_examples(paths: Iterable[Path]) -> list[Example]:
    """Examples from hard-case files (``escalate:``/``benign:``), category-case files
    (``concerns:``/``interests:``, as ``none``), JSON Lines in the eval format or scripted
    referrals (the answers of those that raised nothing, as ``none``), and Rasa NLU files
    (every intent but the disclosure one, as ``none``)."""
    out: list[Example] = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            out.extend(_jsonl(text))
            continue
        data = yaml.safe_load(text) or {}
        if "nlu" in data:
            out.extend(_nlu(data["nlu"]))
        else:
            out.extend(_cases(data))
    return out


def _jsonl(text: str) -> Iterable[Example]:
    for line in text.splitlines():
        if line.strip():
            item = json.loads(line)
            if "answers" in item:
                yield from _scripted_referral(item)
                continue
            label = item["category"] if item["expect"] == "escalate" else NONE
            yield Example(item["text"], label, item.get("min_severity") == 5)


LONG_ANSWER = 6
"""Words from which a scripted referral's answer is worth learning from."""


def _scripted_referral(item: dict[str, Any]) -> Iterable[Example]:
    """Every answer of a scripted referral that raised nothing, as ``none``: long, ordinary
    answers to the bot's questions, the kind the model misread most."""
    expect = item["expect"]
    if expect.get("flagged") is False or expect.get("referral", ...) is None:
        for answer in item["answers"].values():
            if len(str(answer).split()) >= LONG_ANSWER:  # "yes", "skip", "14" teach nothing
                yield Example(str(answer), NONE)


def _cases(data: dict[str, Any]) -> Iterable[Example]:
    for item in data.get("escalate", []):
        yield Example(item["text"], item["category"], item.get("min_severity") == 5)
    # Hard near misses, and answers tagged with the referral's concerns and interests.
    for key in ("benign", "concerns", "interests"):
        for item in data.get(key, []):
            yield Example(item["text"] if isinstance(item, dict) else item, NONE)


def _nlu(items: list[dict[str, Any]]) -> Iterable[Example]:
    for item in items:
        if "intent" not in item or item["intent"] == "safeguarding_disclosure":
            continue
        for line in str(item.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield Example(_NLU_ENTITY.sub(r"\1", line[2:]), NONE)


def train(
    examples: Sequence[Example],
    normalise: Callable[[str], str],
    *,
    now_also: Callable[[str], bool] | None = None,
    threshold: float = THRESHOLD,
    share: float = SHARE,
    now_threshold: float = NOW_THRESHOLD,
    c: float = C,
) -> Model:
    """Fit a multinomial logistic regression on the examples' n-grams, and the risk-now head
    on the disclosures among them (deterministic). A disclosure counts as risk now when its
    data says so or ``now_also`` does (the project passes the rules' own severity 5)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    counted = [features(normalise(e.text)) for e in examples]
    seen: dict[str, int] = {}
    for counts in counted:
        for key in counts:
            seen[key] = seen.get(key, 0) + 1
    n = len(counted)
    idf = {k: math.log((1 + n) / (1 + d)) + 1.0 for k, d in seen.items() if d >= MIN_COUNT}
    vectoriser = DictVectorizer()
    matrix = vectoriser.fit_transform([weighted(counts, idf) for counts in counted])
    fitted = LogisticRegression(C=c, max_iter=5000).fit(matrix, [e.label for e in examples])
    classes = [str(label) for label in fitted.classes_]
    names = vectoriser.get_feature_names_out()
    coef, bias = fitted.coef_.tolist(), fitted.intercept_.tolist()
    if len(classes) == 2:
        # Two classes: one logit for the second; a softmax over [0, logit] is the same.
        coef, bias = [[0.0] * len(coef[0]), coef[0]], [0.0, bias[0]]
    now = None
    disclosures = [i for i, e in enumerate(examples) if e.label != NONE]
    labels = [
        examples[i].now or (now_also is not None and now_also(examples[i].text))
        for i in disclosures
    ]
    if len(set(labels)) == 2:
        head = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        head.fit(matrix[disclosures], labels)
        coef.append(head.coef_[0].tolist())
        now = NowHead(float(head.intercept_[0]), now_threshold)
    rows = {
        str(name): (idf[str(name)], tuple(float(row[i]) for row in coef))
        for i, name in enumerate(names)
    }
    return Model(classes, [float(b) for b in bias], rows.items(), threshold, share, now)


def train_for(ruleset: RuleSet, examples: Sequence[Example]) -> Model:
    """Train as the project does: the rule set's normalisation, and a disclosure a rule
    itself scores 5 counted as risk now too."""

    def rules_say_now(text: str) -> bool:
        return any(rule.severity >= 5 for rule in ruleset.hits(ruleset.normalise(text)))

    return train(examples, ruleset.normalise, now_also=rules_say_now)


def describe(examples: Sequence[Example]) -> dict[str, object]:
    """What the model was trained on, for the file's header: counts and a digest."""
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    for e in examples:
        digest.update(f"{e.label}\0{e.now:d}\0{e.text}\0".encode())
        counts[e.label] = counts.get(e.label, 0) + 1
    return {"examples": dict(sorted(counts.items())), "data_sha256": digest.hexdigest()[:16]}


def write_model(model: Model, examples: Sequence[Example], path: Path) -> None:
    """Write the model file (see `model.to_json`)."""
    path.write_text(to_json(model, describe(examples)), encoding="utf-8")
