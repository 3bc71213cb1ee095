"""Whether the domain is empty, worked out once per domain instead of on every message.

Rasa 3.6 checks each parsed message's intent and entities against the domain, and first asks
`Domain.is_empty()`, which turns the whole domain into a dictionary, builds an empty domain, and
compares the two: about 1.5% of the Rasa server's CPU (py-spy, 16 clients). A loaded domain is
not changed while the server runs, so installed by `bot.speedups`, the answer is kept on the
domain the first time it is asked.
"""

from __future__ import annotations

from rasa.shared.core.domain import Domain

_original_is_empty = Domain.is_empty
_KEPT = "_youthlink_is_empty"


def is_empty(self: Domain) -> bool:
    """`Domain.is_empty`, asked once per domain."""
    known = self.__dict__.get(_KEPT)
    if known is None:
        known = self.__dict__[_KEPT] = _original_is_empty(self)
    return bool(known)


def install() -> None:
    """Make domains keep the answer (idempotent)."""
    Domain.is_empty = is_empty  # type: ignore[method-assign]
