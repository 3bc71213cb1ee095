"""Fixtures for the handoff tests (the database ones come from tests.support.db)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.db import (  # noqa: F401 (fixtures)
    cipher,
    database_url,
    engine,
    pg_database,
    pg_url,
    sessions,
    settings,
    sqlite_url,
)
from tests.support.referrals import TEST_PHONE

AddressBook = dict[str, tuple[str, str]]


@pytest.fixture
def address_book() -> AddressBook:
    """The gateway's conversations as the fake lookup sees them: id -> (channel, address)."""
    return {"c_test_conversation": ("sms", TEST_PHONE)}


@pytest.fixture
def lookup(address_book: AddressBook) -> Callable[[str], tuple[str, str] | None]:
    """A stand-in for the gateway's `lookup_address`, bound to a session and cipher."""
    return address_book.get
