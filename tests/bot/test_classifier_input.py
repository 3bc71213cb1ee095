"""The classifier's input built the quick way holds the same numbers as Rasa's own."""

from __future__ import annotations

import numpy as np
import scipy.sparse
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from bot.classifier_input import _original_create_x, create_x


def message(rng: np.random.Generator, *, dense: bool = False) -> Message:
    msg = Message(data={TEXT: "hello there"})
    for origin in ("count_words", "count_chars"):
        values = scipy.sparse.random(1, 40, density=0.2, random_state=rng.integers(1 << 30))
        msg.add_features(Features(values.tocoo(), "sentence", TEXT, origin))
    if dense:
        msg.add_features(Features(rng.random((1, 5)), "sentence", TEXT, "dense"))
    return msg


def as_array(matrix: object) -> np.ndarray:
    return np.asarray(scipy.sparse.csr_matrix(matrix).toarray())


def test_one_message_gives_the_same_matrix() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        messages = [message(rng)]
        quick = create_x(None, messages)  # type: ignore[arg-type]
        rasa = _original_create_x(None, messages)  # type: ignore[arg-type]
        assert quick.shape == rasa.shape
        assert np.array_equal(as_array(quick), as_array(rasa))


def test_several_messages_or_dense_features_take_rasas_own_path() -> None:
    rng = np.random.default_rng(8)
    for messages in ([message(rng), message(rng)], [message(rng, dense=True)]):
        quick = create_x(None, messages)  # type: ignore[arg-type]
        rasa = _original_create_x(None, messages)  # type: ignore[arg-type]
        assert np.array_equal(as_array(quick), as_array(rasa))
