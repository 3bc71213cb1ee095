"""Rasa's copies for debug lines are skipped while debug logging is off, and only those."""

from __future__ import annotations

import ast
import copy
import inspect
import logging
from collections.abc import Iterator
from types import ModuleType

import pytest
import structlog
from rasa.utils.log_utils import configure_structlog

from bot import log_copies


def _debug_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "debug"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "structlogger"
    )


def _uses_of_copy(module: ModuleType) -> Iterator[tuple[str, bool]]:
    """Each use of the name `copy` in the module: what is used, and whether it is inside the
    arguments of a `structlogger.debug(...)` call."""
    tree = ast.parse(inspect.getsource(module))

    def walk(node: ast.AST, in_debug: bool) -> Iterator[tuple[str, bool]]:
        for child in ast.iter_child_nodes(node):
            if (
                isinstance(child, ast.Attribute)
                and isinstance(child.value, ast.Name)
                and child.value.id == "copy"
            ):
                yield child.attr, in_debug
            elif isinstance(child, ast.Name) and child.id == "copy":
                yield "copy", in_debug
            else:
                yield from walk(child, in_debug or _debug_call(child))

    yield from walk(tree, False)


@pytest.mark.parametrize("module", log_copies.MODULES, ids=lambda m: m.__name__)
def test_the_modules_deep_copy_only_what_debug_lines_log(module: ModuleType) -> None:
    """If a Rasa upgrade copied anything for its own use in these modules, skipping the copy
    could change an answer: this fails first."""
    uses = list(_uses_of_copy(module))  # `import copy` is an alias node, not a use
    assert uses, f"{module.__name__} no longer deep-copies for its logs: drop it from MODULES"
    assert all(use == ("deepcopy", True) for use in uses), uses


@pytest.fixture
def structlog_level() -> Iterator[None]:
    before = structlog.get_config()
    yield
    structlog.configure(**before)


def test_values_are_passed_as_they_are_while_debug_is_off(structlog_level: None) -> None:
    configure_structlog(logging.INFO)
    log_copies.install()
    events = [{"event": "user", "parse_data": {"entities": [{"value": "x"}]}}]
    for module in log_copies.MODULES:
        assert module.copy.deepcopy(events) is events  # type: ignore[attr-defined]
        assert module.copy.copy is copy.copy  # type: ignore[attr-defined]  # the rest as it was


def test_values_are_copied_when_debug_is_on(structlog_level: None) -> None:
    configure_structlog(logging.DEBUG)
    log_copies.install()
    events = [{"event": "user", "parse_data": {"entities": [{"value": "x"}]}}]
    for module in log_copies.MODULES:
        copied = module.copy.deepcopy(events)  # type: ignore[attr-defined]
        assert copied == events and copied is not events
        assert copied[0]["parse_data"] is not events[0]["parse_data"]
