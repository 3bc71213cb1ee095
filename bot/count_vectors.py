"""Counts a message's words and letter n-grams for `CountVectorsFeaturizer` without scikit-learn's
per-call machinery.

For each message Rasa 3.6's `CountVectorsFeaturizer._create_features` calls the fitted
scikit-learn `CountVectorizer.transform` twice (once on the message's tokens, once on the
whole text), and each call builds a CSR matrix with scikit-learn's checks, sorts it, and turns
it into a COO matrix: about 0.6 ms per featurizer per message, a tenth of the Rasa server's CPU
under 16 concurrent conversations, for a few dozen counts. This counts the same features
with the vectorizer's own analyzer and vocabulary (the same tokens, lowercasing, n-grams and
accents as `transform`) and builds the COO matrix once, with the entries in the order
`transform` leaves them (row by row, columns ascending) and the same dtypes. A test compares
both, entry for entry, on every NLU example and on messages the bot never saw. Training and
any vectorizer that is not a fitted, non-binary `CountVectorizer` take Rasa's own path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from scipy.sparse import coo_matrix
from sklearn.feature_extraction.text import CountVectorizer

_original_create_features = CountVectorsFeaturizer._create_features
_analyzers: dict[int, tuple[CountVectorizer, Callable[[str], list[str]]]] = {}


def _analyzer(vectorizer: CountVectorizer) -> Callable[[str], list[str]]:
    found = _analyzers.get(id(vectorizer))
    if found is None or found[0] is not vectorizer:
        found = (vectorizer, vectorizer.build_analyzer())
        _analyzers[id(vectorizer)] = found
    return found[1]


def counts(vectorizer: CountVectorizer, documents: Sequence[str]) -> coo_matrix:
    """`vectorizer.transform(documents)`, sorted and as a COO matrix, as Rasa uses it."""
    analyze = _analyzer(vectorizer)
    vocabulary = vectorizer.vocabulary_
    rows: list[int] = []
    columns: list[int] = []
    values: list[int] = []
    for row, document in enumerate(documents):
        found: dict[int, int] = {}
        for feature in analyze(document):
            column = vocabulary.get(feature)
            if column is not None:
                found[column] = found.get(column, 0) + 1
        for column in sorted(found):
            rows.append(row)
            columns.append(column)
            values.append(found[column])
    return coo_matrix(
        (
            np.array(values, dtype=vectorizer.dtype),
            (np.array(rows, dtype=np.int32), np.array(columns, dtype=np.int32)),
        ),
        shape=(len(documents), len(vocabulary)),
    )


def _fast(vectorizer: Any) -> bool:
    """True for a fitted vectorizer this module counts exactly as scikit-learn does."""
    return (
        type(vectorizer) is CountVectorizer
        and not vectorizer.binary
        and isinstance(getattr(vectorizer, "vocabulary_", None), dict)
        and len(vectorizer.vocabulary_) < np.iinfo(np.int32).max
    )


def create_features(
    self: CountVectorsFeaturizer, attribute: str, all_tokens: list[list[str]]
) -> tuple[list[coo_matrix | None], list[coo_matrix | None]]:
    """`_create_features`, counting directly (see the module)."""
    vectorizer = self.vectorizers.get(attribute)
    if not vectorizer or not _fast(vectorizer):
        return _original_create_features(self, attribute, all_tokens)
    sequence: list[coo_matrix | None] = []
    sentence: list[coo_matrix | None] = []
    for tokens in all_tokens:
        if not tokens:
            sequence.append(None)
            sentence.append(None)
            continue
        sequence.append(counts(vectorizer, tokens))
        if attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            sentence.append(counts(vectorizer, [" ".join(tokens)]))
        else:
            sentence.append(None)
    return sequence, sentence


def install() -> None:
    """Make the featurizer count this way."""
    CountVectorsFeaturizer._create_features = create_features  # type: ignore[method-assign]
