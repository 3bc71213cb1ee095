"""Errors raised while loading rules, contacts and replies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One mistake in a data file: where it is and what is wrong."""

    file: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.reason}"


class SafeguardingRulesError(Exception):
    """Base class for errors of this package."""


class RuleSetError(SafeguardingRulesError):
    """The rule files (or contacts/replies) have mistakes; ``problems`` lists each one."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the safeguarding data:\n{lines}")
