"""UK helplines as data (contacts.yml), each with the date it was last checked."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from safeguarding_rules.errors import Problem
from safeguarding_rules.schema import CONTACTS_SCHEMA
from safeguarding_rules.yamldoc import compose_file, field, mapping_items, to_python, validate

STALE_AFTER_MONTHS = 6


@dataclass(frozen=True)
class Contact:
    """A helpline: ``reply`` is how it reads inside a message."""

    key: str
    name: str
    reply: str
    last_checked: dt.date
    phone: str = ""
    text: str = ""
    url: str = ""
    hours: str = ""
    who: str = ""
    line: int = 0

    def is_stale(self, today: dt.date, months: int = STALE_AFTER_MONTHS) -> bool:
        """True when the entry was last checked more than ``months`` months before today."""
        return add_months(self.last_checked, months) < today


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (clamped to the month's last day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def default_contacts_path() -> Path:
    """contacts.yml shipped with the package."""
    return Path(__file__).resolve().parent / "contacts.yml"


def read_contacts(path: Path) -> tuple[dict[str, Contact], list[Problem]]:
    """Read and check contacts.yml."""
    node, problems = compose_file(path)
    if node is None:
        return {}, problems
    problems = validate(node, CONTACTS_SCHEMA, str(path))
    if problems:
        return {}, problems
    contacts: dict[str, Contact] = {}
    for key, key_node, value_node in mapping_items(field(node, "contacts")):
        data = to_python(value_node)
        contacts[key] = Contact(
            key=key,
            name=data["name"],
            reply=data["reply"],
            last_checked=data["last_checked"],
            phone=str(data.get("phone", "")),
            text=str(data.get("text", "")),
            url=str(data.get("url", "")),
            hours=str(data.get("hours", "")),
            who=str(data.get("who", "")),
            line=key_node.start_mark.line + 1,
        )
    return contacts, []
