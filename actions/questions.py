"""The bot's questions (data in `questions.yml`), picked for what the conversation holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path(__file__).with_name("questions.yml")


@dataclass(frozen=True)
class Question:
    """One message asking one question: text, optional buttons, and its `asking` key."""

    asking: str
    text: str
    buttons: tuple[tuple[str, str], ...] = ()

    def as_message(self) -> dict[str, Any]:
        """Keyword arguments for `CollectingDispatcher.utter_message`."""
        message: dict[str, Any] = {"text": self.text, "json_message": {"asking": self.asking}}
        if self.buttons:
            message["buttons"] = [{"title": t, "payload": p} for t, p in self.buttons]
        return message


@dataclass(frozen=True)
class Variation:
    when: Mapping[str, Any]
    text: str
    buttons: tuple[tuple[str, str], ...]

    def applies(self, slots: Mapping[str, Any]) -> bool:
        return all(slots.get(name) == value for name, value in self.when.items())


@dataclass(frozen=True)
class QuestionBook:
    """Every question by the slot it fills."""

    asking: Mapping[str, str]
    variations: Mapping[str, tuple[Variation, ...]]

    def question(self, slot: str, slots: Mapping[str, Any]) -> Question:
        """The first variation whose conditions hold (the last one has none)."""
        chosen = next(v for v in self.variations[slot] if v.applies(slots))
        return Question(self.asking[slot], chosen.text, chosen.buttons)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> QuestionBook:
        variations = {
            slot: tuple(
                Variation(
                    dict(v.get("when") or {}),
                    str(v["text"]),
                    tuple((str(t), str(p)) for t, p in v.get("buttons") or ()),
                )
                for v in spec["variations"]
            )
            for slot, spec in data.items()
        }
        for slot, options in variations.items():
            if options[-1].when:
                raise ValueError(f"the last variation of {slot!r} must have no conditions")
        return cls({slot: str(spec["asking"]) for slot, spec in data.items()}, variations)


@cache
def load_book(path: Path = DATA_FILE) -> QuestionBook:
    """The questions from the data file (read once per process)."""
    return QuestionBook.parse(yaml.safe_load(path.read_text(encoding="utf-8")))
