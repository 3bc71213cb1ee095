"""The copies of the shared contracts and development sets kept in the repo match the originals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.evaldata import SHARED_EVAL, VENDORED_EVAL

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["safeguarding_dev.jsonl", "referrals_dev.jsonl"])
def test_vendored_eval_copy_matches_the_shared_set(name: str) -> None:
    vendored = VENDORED_EVAL / name
    assert vendored.is_file(), f"{vendored} is missing"
    shared = SHARED_EVAL / name
    if not shared.is_file():
        pytest.skip(f"the shared development sets are not next to this checkout ({shared})")
    assert vendored.read_bytes() == Path(shared).read_bytes(), f"refresh {vendored} from {shared}"


def test_vendored_taxonomy_matches_the_shared_one() -> None:
    vendored = VENDORED_EVAL.parent / "taxonomy.yml"
    assert vendored.is_file(), f"{vendored} is missing"
    shared = SHARED_EVAL.parent / "taxonomy.yml"
    if not shared.is_file():
        pytest.skip(f"the shared taxonomy is not next to this checkout ({shared})")
    assert vendored.read_bytes() == shared.read_bytes(), f"refresh {vendored} from {shared}"
