"""Words and letter n-grams counted directly give scikit-learn's matrices, entry for entry."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from rasa.core.agent import Agent
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from scipy.sparse import coo_matrix
from sklearn.feature_extraction.text import CountVectorizer

from bot.count_vectors import _original_create_features, counts, create_features

pytestmark = [pytest.mark.unit, pytest.mark.rasa]

REPO = Path(__file__).resolve().parents[2]
ENTITY = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")
UNSEEN = [
    "", "ÀÉÎ naïve café", "x" * 300, "i'm 15 n my mum n dad r always fighting 😩😩",
    "CAN I TALK TO A PERSON", "🎨🎮⚽", "skip!!!", "ok.", "idk... maybe? drawing/painting",
]  # fmt: skip


@pytest.fixture(scope="module")
def featurizers() -> list[CountVectorsFeaturizer]:
    """The trained model's count featurizers (words, and letter n-grams)."""
    agent = Agent.load(str(REPO / "models" / "youthlink.tar.gz"))
    assert agent.processor is not None
    nodes = agent.processor.graph_runner._instantiated_nodes  # type: ignore[attr-defined]
    found = [
        node._component
        for node in nodes.values()
        if isinstance(getattr(node, "_component", None), CountVectorsFeaturizer)
    ]
    assert {f._config["analyzer"] for f in found} == {"word", "char_wb"}
    return found


def nlu_texts() -> list[str]:
    texts = []
    for path in sorted((REPO / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text()).get("nlu", []):
            for line in (item.get("examples") or "").splitlines():
                if line.startswith("- "):
                    texts.append(ENTITY.sub(lambda m: m.group(1) or m.group(2), line[2:]))
    return texts


def same(ours: coo_matrix | None, theirs: coo_matrix | None) -> bool:
    if ours is None or theirs is None:
        return ours is theirs
    return (
        ours.shape == theirs.shape
        and ours.dtype == theirs.dtype
        and ours.row.dtype == theirs.row.dtype
        and ours.col.dtype == theirs.col.dtype
        # Entries in the same order: the classifier's sums are the same to the last bit.
        and np.array_equal(ours.row, theirs.row)
        and np.array_equal(ours.col, theirs.col)
        and np.array_equal(ours.data, theirs.data)
    )


def test_every_message_is_counted_as_scikit_learn_counts_it(
    featurizers: list[CountVectorsFeaturizer],
) -> None:
    texts = nlu_texts() + UNSEEN
    assert len(texts) > 2_000
    tokens = [text.split() for text in texts]
    for featurizer in featurizers:
        ours = create_features(featurizer, "text", tokens)
        theirs = _original_create_features(featurizer, "text", tokens)
        assert len(ours[0]) == len(theirs[0]) == len(tokens)
        for i, text in enumerate(texts):
            assert same(ours[0][i], theirs[0][i]), text
            assert same(ours[1][i], theirs[1][i]), text
        assert sum(m is not None and m.nnz > 0 for m in ours[1]) > 2_000


def test_a_vectorizer_it_cannot_count_exactly_takes_rasas_path(
    featurizers: list[CountVectorsFeaturizer], monkeypatch: pytest.MonkeyPatch
) -> None:
    featurizer = featurizers[0]
    binary = CountVectorizer(binary=True).fit(["my mum and dad", "i like football"])
    monkeypatch.setitem(featurizer.vectorizers, "text", binary)
    sequence, sentence = create_features(featurizer, "text", [["mum", "mum", "dad"]])
    assert sequence[0] is not None and sentence[0] is not None
    assert sentence[0].data.tolist() == [1, 1]  # binary: counted once each, as scikit-learn does


def test_counts_repeat_and_ignore_unknown_words() -> None:
    vectorizer = CountVectorizer(token_pattern=r"(?u)\b\w+\b").fit(["b a c", "a d"])
    matrix = counts(vectorizer, ["a a zz b", "", "d"])
    assert matrix.toarray().tolist() == [[2, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    assert same(matrix, vectorizer.transform(["a a zz b", "", "d"]).tocoo())
