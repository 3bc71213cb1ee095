"""Fixtures for the safeguarding rules tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safeguarding_rules import RuleSet, load_ruleset
from safeguarding_rules.loader import default_rules_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unit: fast tests without network or services")


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    """The packaged rule set."""
    return load_ruleset()


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    """The development sets (see tests.support.evaldata)."""
    from tests.support.evaldata import eval_dir as find_eval_dir

    return find_eval_dir()


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A writable copy of the packaged rule directory."""
    target = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), target)
    return target
