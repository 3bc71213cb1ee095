"""Pure helpers over an NLU intent ranking (a list of {"name", "confidence"}, best first)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

Intent = dict[str, Any]


def without(ranking: Sequence[Mapping[str, Any]], names: Collection[str]) -> list[Intent]:
    """The ranking with the given intents left out."""
    return [dict(item) for item in ranking if item.get("name") not in names]


def promote(ranking: Sequence[Mapping[str, Any]], name: str, confidence: float) -> list[Intent]:
    """The ranking with `name` first at `confidence` (any earlier entry for it dropped)."""
    return [{"name": name, "confidence": confidence}, *without(ranking, {name})]
