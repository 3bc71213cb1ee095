"""Builds the logistic regression classifier's input for one message without copying it twice.

Rasa 3.6's `LogisticRegressionClassifier._create_X` joins each message's sparse features to its
(here always empty) dense features with `scipy.sparse.hstack`, then stacks the messages with
`vstack`: for the one message of a turn, two sparse-matrix constructions for nothing, about 9%
of the Rasa server's CPU. For a single message with sparse features only, the matrix is now
that message's sparse features as they are; anything else (training, dense features) takes
Rasa's own path. The classifier sees the same numbers either way.
"""

from __future__ import annotations

from typing import Any

from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix

_original_create_x = LogisticRegressionClassifier._create_X


def create_x(self: LogisticRegressionClassifier, messages: list[Message]) -> Any:
    """`_create_X`, quick for one message with sparse features only (see the module)."""
    if len(messages) == 1:
        (message,) = messages
        sparse = message.get_sparse_features(attribute=TEXT)[1]
        dense = message.get_dense_features(attribute=TEXT)[1]
        if sparse is not None and dense is None:
            return csr_matrix(sparse.features)
    return _original_create_x(self, messages)


def install() -> None:
    """Make the classifier build its input this way."""
    LogisticRegressionClassifier._create_X = create_x  # type: ignore[method-assign]
