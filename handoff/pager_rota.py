"""Who the pager wakes: the on-call rota, in order, as contacts with their page addresses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.orm import Session

from handoff import rota
from youthlink.crypto import Cipher


@dataclass(frozen=True)
class OnCallContact:
    """One place on the rota: who (an id, never a name), in what order, and where to page them.

    `addresses` maps a page channel ("sms", "telegram") to a phone number or chat id.
    """

    ref: str
    position: int
    addresses: Mapping[str, str] = field(default_factory=dict, repr=False)


class RotaSource(Protocol):
    """The on-call contacts in paging order (lowest position first)."""

    def on_call(self, session: Session) -> Sequence[OnCallContact]: ...


@dataclass(frozen=True)
class StaticRota:
    """A fixed rota (tests, or a deployment that configures its leads outside the database)."""

    contacts: tuple[OnCallContact, ...] = ()

    def on_call(self, session: Session) -> Sequence[OnCallContact]:
        return sorted(self.contacts, key=lambda c: c.position)


@dataclass(frozen=True)
class RotaTable:
    """The rota staff keep in the dashboard (`handoff.rota`): who is on call, in order."""

    cipher: Cipher

    def on_call(self, session: Session) -> Sequence[OnCallContact]:
        contacts = []
        for entry in rota.on_call(session, self.cipher):
            addresses = {
                channel: address
                for channel, address in (("sms", entry.phone), ("telegram", entry.telegram_chat))
                if address
            }
            contacts.append(OnCallContact(f"user:{entry.user_id}", entry.position, addresses))
        return contacts


def places(contacts: Iterable[OnCallContact]) -> list[list[OnCallContact]]:
    """The contacts grouped by position, in order (several people can share a place)."""
    grouped: dict[int, list[OnCallContact]] = {}
    for contact in sorted(contacts, key=lambda c: c.position):
        grouped.setdefault(contact.position, []).append(contact)
    return list(grouped.values())


def contacts_for_round(contacts: Iterable[OnCallContact], round_: int) -> list[OnCallContact]:
    """Who round `round_` pages: everyone in the first `round_ + 1` places on the rota.

    Round 0 wakes the first place; each re-page wakes everyone paged so far again and the next
    place; once the rota is exhausted every round pages all of it. A contact on the rota twice
    is paged once.
    """
    seen: dict[str, OnCallContact] = {}
    for place in places(contacts)[: round_ + 1]:
        for contact in place:
            seen.setdefault(contact.ref, contact)
    return list(seen.values())
