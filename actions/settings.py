"""What the action server needs to know, read once from the environment on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from youthlink.config import Settings

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "handoff" / "schema" / "referral.schema.json"
RETRY_DELAYS = (0.5, 1.0, 2.0, 3.0, 3.5)
"""Seconds between attempts to reach the handoff API: about ten seconds in all."""


@dataclass(frozen=True)
class ActionSettings:
    """The handoff API's address and token, and the escalation threshold."""

    handoff_url: str
    service_token: str
    escalate_at: int = 4
    schema_file: Path = SCHEMA_FILE
    retry_delays: tuple[float, ...] = RETRY_DELAYS

    @classmethod
    def from_settings(cls, settings: Settings) -> ActionSettings:
        return cls(
            handoff_url=settings.handoff_url,
            service_token=settings.service_token,
            escalate_at=settings.escalate_at,
        )


@cache
def current() -> ActionSettings:
    """This process's settings (the environment is read on the first call only)."""
    return ActionSettings.from_settings(Settings.from_env())
