"""Locate the shared development sets (`../shared/eval` next to the repo, or YOUTHLINK_EVAL_DIR)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def eval_dir() -> Path:
    """The folder holding the development sets."""
    override = os.environ.get("YOUTHLINK_EVAL_DIR")
    return Path(override) if override else REPO.parent / "shared" / "eval"


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """Every record of one development set."""
    path = eval_dir() / name
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
