"""Deep-copies Rasa makes only for debug log lines, skipped when debug logging is off.

Rasa 3.6 writes many debug lines with structlog, and passes them deep copies of what it logs
(`structlogger.debug("processor.actions.log", rasa_events=copy.deepcopy(events))`): the copy is
made before the call, so it is made on every message even though the logger, filtering at INFO,
throws the line away. Per turn that is the parse data, the latest message, the events of each
action and the rule policy's states: 30-60 µs a copy here, up to 5% of the Rasa server's CPU
in py-spy samples under 16 clients (some of those samples could not be attributed exactly).

Installed by `bot.speedups`, this gives each module below a stand-in for its `copy` module
whose `deepcopy` returns its argument as it is while structlog's debug level is off, and copies
as before when it is on. In these modules every `copy.deepcopy` is an argument of a debug log
call and nothing else of `copy` is used; a test reads their source to hold Rasa to that.
"""

from __future__ import annotations

import copy
from typing import Any

import rasa.core.actions.forms
import rasa.core.policies.rule_policy
import rasa.core.processor
import structlog

MODULES = (
    rasa.core.processor,
    rasa.core.actions.forms,
    rasa.core.policies.rule_policy,
)


def debug_logging_on() -> bool:
    """Whether structlog writes debug lines (Rasa's filtering logger makes `debug` a no-op)."""
    wrapper = structlog.get_config()["wrapper_class"]
    return getattr(getattr(wrapper, "debug", None), "__name__", "") != "_nop"


class CopiesForLogs:
    """Stands for the `copy` module where it only copies what debug lines log."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        """`copy.deepcopy` when debug lines are written; else the value itself, unread."""
        return copy.deepcopy(value, memo) if debug_logging_on() else value

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def install() -> None:
    """Give each module the stand-in (idempotent)."""
    for module in MODULES:
        module.copy = CopiesForLogs()  # type: ignore[attr-defined]
