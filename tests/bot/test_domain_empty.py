"""A domain's emptiness is worked out once and answered as Rasa would."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.core.domain import Domain

from bot import domain_empty
from tests.bot.stories import domain_and_stories


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[Domain]:
    asked: list[Domain] = []

    def original(domain: Domain) -> bool:
        asked.append(domain)
        return domain.as_dict() == Domain.empty().as_dict()

    monkeypatch.setattr(domain_empty, "_original_is_empty", original)
    monkeypatch.setattr(Domain, "is_empty", domain_empty.is_empty)
    return asked


def test_the_answer_is_rasas_and_is_worked_out_once(counted: list[Domain]) -> None:
    domain, _ = domain_and_stories()
    empty = Domain.empty()
    for _ in range(3):
        assert domain.is_empty() is False
        assert empty.is_empty() is True
    # Loading the domain asks too (of the domains it merges): only these two count here.
    ours = [d for d in counted if d is domain or d is empty]
    assert len(ours) == 2 and ours[0] is domain and ours[1] is empty


def test_install_replaces_rasas_method() -> None:
    domain_empty.install()
    method: Any = Domain.is_empty
    assert method is domain_empty.is_empty
