"""What every handoff request needs: the database, the cipher and the gateway's address lookup."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from handoff.referrals import AddressLookup
from youthlink.config import Settings
from youthlink.crypto import Cipher

# The gateway's `channels.conversations.lookup_address(session, cipher, conversation_id)`.
ConversationAddressLookup = Callable[[Session, Cipher, str], "tuple[str, str] | None"]


@dataclass(frozen=True)
class HandoffContext:
    """Shared by the API routes (and anything else mounted on the handoff app)."""

    settings: Settings
    cipher: Cipher
    sessions: sessionmaker[Session]
    address_lookup: ConversationAddressLookup | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error."""
        with self.sessions.begin() as session:
            yield session

    def lookup_for(self, session: Session) -> AddressLookup | None:
        """The address lookup bound to this session, if the gateway's one is wired in."""
        if self.address_lookup is None:
            return None
        return functools.partial(self.address_lookup, session, self.cipher)
