"""Locate the development sets: YOUTHLINK_EVAL_DIR, else `../shared/eval` next to the repo, else
the copy kept in `tests/data/eval` (so a clone on its own can still run every test)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED_EVAL = REPO.parent / "shared" / "eval"
VENDORED_EVAL = REPO / "tests" / "data" / "eval"


def eval_dir() -> Path:
    """The folder holding the development sets."""
    override = os.environ.get("YOUTHLINK_EVAL_DIR")
    if override:
        return Path(override)
    return SHARED_EVAL if SHARED_EVAL.is_dir() else VENDORED_EVAL


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """Every record of one development set."""
    path = eval_dir() / name
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
