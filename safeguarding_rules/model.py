"""The statistical second reader behind the rules: a linear model over word and letter
n-grams of the normalised message, trained on labelled disclosures and near misses.

Rules catch the wordings someone wrote a rule for; on wordings nobody wrote (fresh sets
measured in docs/benchmarks.md) they caught about three in five. The model reads every
message too and, when it is confident that a message is a disclosure, adds a finding
``model.<category>`` at the escalation severity, so a lead is paged and reviews it like any
other escalation. It never lowers what a rule found. Scoring is pure Python; training
(`safeguarding_rules.training`) needs scikit-learn and happens offline.
"""

from __future__ import annotations

import functools
import json
import math
import re
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safeguarding_rules.categories import CATEGORIES
from safeguarding_rules.errors import Problem

MODEL_FILE = "_model.json"
FORMAT = "youthlink-safeguarding-model/1"
NONE = "none"
ID_PREFIX = "model."
NOW_ID_PREFIX = "model.now."  # the risk-now head's finding: model.now.<category>
# Weights are written as whole multiples of 1/WEIGHT_SCALE: exact enough (no probability
# moves by more than about 1e-4) at half the size of decimals.
WEIGHT_SCALE = 10_000
CHAR_NGRAMS = (3, 5)
# Scaling every message to unit length would let one common word ("and") speak as loudly as
# a whole disclosure: "and" alone read as sexual abuse at 0.999. Short messages are divided by
# at least this (about the length of a six-word message) so thin evidence stays thin.
NORM_FLOOR = 40.0

_KNOWN_WORDS = 100_000  # words whose share a model keeps (all forgotten when full)
_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def features(normalised: str) -> dict[str, int]:
    """Counts of the n-grams the model reads in already normalised text: words (``w:``),
    word pairs with sentence ends (``b:``), and 3-5 letter pieces of each word with a
    space either side (``c:``). A word or pair said again adds nothing: "word word word..."
    reads as "word word", so repeating a word cannot make it louder."""
    pairs, words = _distinct_terms(normalised)
    found = dict.fromkeys(pairs, 1)
    for word in words:
        for key in _word_features(word):
            found[key] = found.get(key, 0) + 1
    return found


def _distinct_terms(normalised: str) -> tuple[list[str], list[str]]:
    """A message's distinct word pairs (``b:`` keys, sentence ends included) and distinct
    words, in order of first appearance."""
    words = _TOKEN.findall(normalised)
    pairs = (f"b:{a} {b}" for a, b in zip(["<s>", *words], [*words, "</s>"], strict=True))
    return list(dict.fromkeys(pairs)), list(dict.fromkeys(words))


@functools.lru_cache(maxsize=50_000)
def _word_features(word: str) -> tuple[str, ...]:
    lo, hi = CHAR_NGRAMS
    padded = f" {word} "
    pieces = ["w:" + word]
    for n in range(lo, hi + 1):
        pieces.extend("c:" + padded[i : i + n] for i in range(len(padded) - n + 1))
    return tuple(pieces)


def weighted(counts: Mapping[str, int], idf: Mapping[str, float]) -> dict[str, float]:
    """Count times idf, divided by the message's length or by NORM_FLOOR, whichever is
    larger; unknown n-grams dropped. The length is the square root of the sum of count times
    idf squared: a sum over occurrences, so a message's terms add up word by word and each
    word's share can be worked out once (`Model`)."""
    known = {k: c for k, c in counts.items() if k in idf}
    norm = max(math.sqrt(sum(c * idf[k] ** 2 for k, c in known.items())), NORM_FLOOR)
    return {k: c * idf[k] / norm for k, c in known.items()}


@dataclass(frozen=True)
class ModelFinding:
    """A category the model reads in a message, with the model's probability for it."""

    category: str
    probability: float

    @property
    def id(self) -> str:
        """The id this finding carries in verdicts and the escalation log."""
        return ID_PREFIX + self.category


@dataclass(frozen=True)
class NowHead:
    """The second question the model answers about a disclosure: is it risk to life or of
    serious harm now (severity 5)? A logistic head on the same n-grams, trained on
    disclosures only; ``threshold`` is the probability from which it says yes."""

    bias: float
    threshold: float


@dataclass(frozen=True)
class ModelReading:
    """What the model reads in one message: its findings (likeliest first) and whether the
    message reads as risk now. ``now`` says nothing about whether it is a disclosure: the
    rule set applies it only to a message that escalates."""

    findings: tuple[ModelFinding, ...]
    now: bool


class Model:
    """A trained model ready to score normalised messages (pure: no I/O once built).

    ``threshold``: the smallest probability that the message is some disclosure (one minus
    the probability of ``none``) that produces findings. ``share``: a category is reported
    when its probability is at least this share of the likeliest category's. ``now``: the
    risk-now head, whose weight is the last of each row's, or None.
    """

    def __init__(
        self,
        classes: Sequence[str],
        bias: Sequence[float],
        rows: Iterable[tuple[str, tuple[float, Sequence[float]]]],
        threshold: float,
        share: float,
        now: NowHead | None = None,
        *,
        weight_scale: float = 1.0,
    ) -> None:
        self.classes = tuple(classes)
        self.bias = tuple(bias)
        self.threshold = threshold
        self.share = share
        self.now = now
        self._biases = (*self.bias, now.bias) if now is not None else self.bias
        self._width = width = len(self._biases)
        # Flat arrays of doubles, a row per n-gram: a dict of tuples of floats took 28 MB
        # in every process that screens; these take about 5 MB.
        self._index: dict[str, int] = {}
        self._idf = array("d")
        self._weights = array("d")
        # Per n-gram: idf squared (its share of the length) and its row times idf.
        self._square = array("d")
        self._scaled = array("d")
        for i, (key, (idf, row)) in enumerate(rows):
            if len(row) != width:
                raise ValueError(f"row {key!r} holds {len(row)} weights, not {width}")
            weights = [w / weight_scale for w in row] if weight_scale != 1.0 else row
            self._index[key] = i
            self._idf.append(idf)
            self._weights.extend(weights)
            self._square.append(idf * idf)
            self._scaled.extend(idf * w for w in weights)
        self._words: dict[str, tuple[float, tuple[float, ...]]] = {}

    @property
    def size(self) -> int:
        """How many n-grams the model knows."""
        return len(self._index)

    @property
    def idf(self) -> dict[str, float]:
        """Each n-gram's idf (a new dict: for training, tests and the file)."""
        return {k: self._idf[i] for k, i in self._index.items()}

    @property
    def weights(self) -> dict[str, tuple[float, ...]]:
        """Each n-gram's weights, one per class then the risk-now head's (a new dict)."""
        w = self._width
        return {k: tuple(self._weights[i * w : (i + 1) * w]) for k, i in self._index.items()}

    def _row(self, key: str) -> tuple[float, Sequence[float]] | None:
        i = self._index.get(key)
        if i is None:
            return None
        w = self._width
        return self._square[i], self._scaled[i * w : (i + 1) * w]

    def _logits(self, normalised: str) -> list[float]:
        # Every n-gram of every distinct word and pair adds its row times its idf to the sum,
        # and its idf squared to the length (see `features`, `weighted`), so each word's share
        # is kept once worked out.
        parts: list[Sequence[float]] = []
        square = 0.0
        pairs, words = _distinct_terms(normalised)
        for key in pairs:
            pair = self._row(key)
            if pair is not None:
                square += pair[0]
                parts.append(pair[1])
        for word in words:
            share = self._words.get(word)
            if share is None:
                share = self._word_share(word)
            if share[1]:
                square += share[0]
                parts.append(share[1])
        logits = list(self._biases)
        if parts:
            norm = max(math.sqrt(square), NORM_FLOOR)
            logits = [
                b + sum(col) / norm for b, col in zip(logits, zip(*parts, strict=True), strict=True)
            ]
        return logits

    def _word_share(self, word: str) -> tuple[float, tuple[float, ...]]:
        square = 0.0
        rows = []
        for key in _word_features(word):
            found = self._row(key)
            if found is not None:
                square += found[0]
                rows.append(found[1])
        share = (square, tuple(sum(col) for col in zip(*rows, strict=True)) if rows else ())
        if len(self._words) >= _KNOWN_WORDS:
            self._words.clear()
        self._words[word] = share
        return share

    def probabilities(self, normalised: str) -> dict[str, float]:
        """The model's probability for each class (the categories and ``none``)."""
        return self._softmax(self._logits(normalised))

    def now_probability(self, normalised: str) -> float | None:
        """The risk-now head's probability, or None without one."""
        if self.now is None:
            return None
        return _sigmoid(self._logits(normalised)[-1])

    def read(self, normalised: str) -> ModelReading:
        """Findings and the risk-now reading of a message, in one pass."""
        logits = self._logits(normalised)
        now = self.now is not None and _sigmoid(logits[-1]) >= self.now.threshold
        return ModelReading(tuple(self._findings(self._softmax(logits))), now)

    def findings(self, normalised: str) -> list[ModelFinding]:
        """What the model reports for a message: nothing unless it is confident the message
        is a disclosure; then its likeliest categories, likeliest first."""
        return self._findings(self.probabilities(normalised))

    def _softmax(self, logits: Sequence[float]) -> dict[str, float]:
        logits = logits[: len(self.classes)]
        top = max(logits)
        exps = [math.exp(a - top) for a in logits]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}

    def _findings(self, probs: Mapping[str, float]) -> list[ModelFinding]:
        if 1.0 - probs[NONE] < self.threshold:
            return []
        ranked = sorted(
            ((p, c) for c, p in probs.items() if c != NONE), key=lambda pc: (-pc[0], pc[1])
        )
        best = ranked[0][0]
        return [ModelFinding(c, p) for p, c in ranked if p >= self.share * best]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def to_json(model: Model, meta: Mapping[str, object]) -> str:
    """The model file's text: the header on the first line, then one n-gram per line
    (``"n-gram": [idf, [weight per class, then the risk-now head's, * weight_scale]]``) so a
    change reads as a diff."""
    head = {
        "format": FORMAT,
        "classes": list(model.classes),
        "bias": [round(b, 6) for b in model.bias],
        "threshold": model.threshold,
        "share": model.share,
        "weight_scale": WEIGHT_SCALE,
        **meta,
    }
    if model.now is not None:
        head["now"] = {"bias": round(model.now.bias, 6), "threshold": model.now.threshold}
    lines = [json.dumps(head, sort_keys=True)[:-1] + ', "rows": {']
    idf, weights = model.idf, model.weights
    keys = sorted(idf)
    for i, key in enumerate(keys):
        row = [round(idf[key], 4), [round(w * WEIGHT_SCALE) for w in weights[key]]]
        comma = "," if i < len(keys) - 1 else ""
        lines.append(f"{json.dumps(key)}: {json.dumps(row)}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def read_model(path: Path) -> tuple[Model | None, list[Problem]]:
    """Read a model file; on any mistake, no model and the problems found."""
    where = str(path)
    try:
        data, rows = _parse(path.read_text(encoding="utf-8"))
        problems = _check(data, where)
        if problems:
            return None, problems
        if rows is None:
            return None, [Problem(where, 1, 1, _ROWS_WANTED)]
        now = data.get("now")
        model = Model(
            data["classes"],
            [float(b) for b in data["bias"]],
            _checked(rows, len(data["classes"]) + (now is not None)),
            float(data["threshold"]),
            float(data["share"]),
            NowHead(float(now["bias"]), float(now["threshold"])) if now is not None else None,
            weight_scale=float(data["weight_scale"]),
        )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [Problem(where, 1, 1, f"model file unreadable: {exc}")]
    except _BadRow as exc:
        return None, [Problem(where, 1, 1, str(exc))]
    if not model.size:
        return None, [Problem(where, 1, 1, _ROWS_WANTED)]
    return model, []


_ROWS_OPEN = ', "rows": {'
_CHUNK = 2_000
_ROWS_WANTED = "rows must map n-grams to [idf, [weights]]"
Row = tuple[str, object]


class _BadRow(ValueError):
    """A row of the model file that is not [idf, [weights]]."""


def _parse(text: str) -> tuple[dict[str, Any], Iterator[Row] | None]:
    """The header, and the rows as they are read.

    A file laid out as `to_json` writes it (a row per line) is read 2,000 rows at a time:
    read whole, its rows briefly took 25 MB, memory each process that screens kept. Any
    other layout of the same JSON is read whole.
    """
    lines = text.split("\n")
    if len(lines) > 3 and lines[0].endswith(_ROWS_OPEN) and lines[-2:] == ["}}", ""]:
        head = json.loads(lines[0][: -len(_ROWS_OPEN)] + "}")
        if isinstance(head, dict) and "rows" not in head:
            return head, _row_lines(lines[1:-2])
    data = json.loads(text)
    if not isinstance(data, dict):
        return {}, None
    rows = data.pop("rows", None)
    return data, iter(rows.items()) if isinstance(rows, dict) else None


def _row_lines(lines: list[str]) -> Iterator[Row]:
    for start in range(0, len(lines), _CHUNK):
        chunk = "\n".join(lines[start : start + _CHUNK]).removesuffix(",")
        yield from json.loads("{" + chunk + "}").items()


def _checked(rows: Iterator[Row], width: int) -> Iterator[tuple[str, tuple[float, list[float]]]]:
    for key, row in rows:
        if not (
            isinstance(row, list)
            and len(row) == 2
            and isinstance(row[0], (int, float))
            and isinstance(row[1], list)
            and len(row[1]) == width
            and all(isinstance(w, (int, float)) for w in row[1])
        ):
            raise _BadRow(f"row {key!r} must be [idf, [{width} weights]]")
        yield key, (row[0], row[1])


def _check(data: object, where: str) -> list[Problem]:
    def problem(reason: str) -> list[Problem]:
        return [Problem(where, 1, 1, reason)]

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return problem(f"not a model file (format must be {FORMAT!r})")
    classes = data.get("classes")
    if not isinstance(classes, list) or NONE not in classes:
        return problem(f"classes must be a list holding {NONE!r}")
    unknown = [c for c in classes if c != NONE and c not in CATEGORIES]
    if unknown:
        return problem(f"unknown categories: {', '.join(map(str, unknown))}")
    bias = data.get("bias")
    if not isinstance(bias, list) or len(bias) != len(classes):
        return problem(f"bias must hold {len(classes)} numbers")
    now = data.get("now")
    if now is not None and not (
        isinstance(now, dict)
        and isinstance(now.get("bias"), (int, float))
        and isinstance(now.get("threshold"), (int, float))
        and 0 < now["threshold"] <= 1
    ):
        return problem("now must be {bias: a number, threshold: above 0 and at most 1}")
    if not isinstance(data.get("weight_scale"), int) or data["weight_scale"] <= 0:
        return problem("weight_scale must be a positive whole number")
    for name in ("threshold", "share"):
        value = data.get(name)
        if not isinstance(value, (int, float)) or not 0 < value <= 1:
            return problem(f"{name} must be a number above 0 and at most 1")
    return []
