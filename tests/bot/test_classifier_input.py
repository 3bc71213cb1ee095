"""The classifier's input built the quick way holds the same numbers as Rasa's own."""

from __future__ import annotations

import numpy as np
import scipy.sparse
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from bot.classifier_input import _original_create_x, create_x


def message(rng: np.random.Generator, *, dense: bool = False, tokens: int = 3) -> Message:
    """A message featurised as the pipeline does: sequence and sentence rows per featurizer, of
    different widths and number types (counts and floats)."""
    msg = Message(data={TEXT: "hello there you"})
    for origin, width, dtype in (
        ("regex", 7, np.float64),
        ("lexical", 12, np.float64),
        ("count_words", 40, np.int64),
        ("count_chars", 90, np.int64),
    ):
        seed = int(rng.integers(1 << 30))
        sequence = scipy.sparse.random(tokens, width, density=0.3, random_state=seed, dtype=dtype)
        msg.add_features(Features(sequence.tocoo(), "sequence", TEXT, origin))
        if origin != "lexical":  # as in Rasa: the lexical featurizer gives no sentence row
            sentence = scipy.sparse.random(
                1, width, density=0.3, random_state=seed + 1, dtype=dtype
            )
            msg.add_features(Features(sentence.tocoo(), "sentence", TEXT, origin))
    if dense:
        msg.add_features(Features(rng.random((1, 5)), "sentence", TEXT, "dense"))
    return msg


def test_one_message_gives_the_same_matrix_entry_for_entry() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        messages = [message(rng, tokens=int(rng.integers(1, 6)))]
        quick = scipy.sparse.csr_matrix(create_x(None, messages))  # type: ignore[arg-type]
        rasa = scipy.sparse.csr_matrix(_original_create_x(None, messages))  # type: ignore[arg-type]
        assert quick.shape == rasa.shape == (1, 7 + 40 + 90)
        assert quick.dtype == rasa.dtype
        # Same entries in the same order, so the classifier's sums are the same to the last bit.
        assert np.array_equal(quick.indptr, rasa.indptr)
        assert np.array_equal(quick.indices, rasa.indices)
        assert np.array_equal(quick.data, rasa.data)


def test_several_messages_or_dense_features_take_rasas_own_path() -> None:
    rng = np.random.default_rng(8)
    for messages in ([message(rng), message(rng)], [message(rng, dense=True)]):
        quick = create_x(None, messages)  # type: ignore[arg-type]
        rasa = _original_create_x(None, messages)  # type: ignore[arg-type]
        assert (quick != rasa).nnz == 0
        assert quick.shape[1] == rasa.shape[1]
