"""What the action server needs to know, read once from the environment on first use."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from youthlink.config import Settings

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "handoff" / "schema" / "referral.schema.json"
RETRY_DELAYS = (0.5, 1.0, 2.0, 3.0, 3.5)
"""Seconds between attempts to reach the handoff API: about ten seconds in all."""

DEFAULT_DATA_REQUESTS_CONTACT = "ask your link worker, or text DELETE to remove it"
"""How to ask for everything held, as told after "what do you know about me?"."""


@dataclass(frozen=True)
class ActionSettings:
    """The handoff API's address and token, the escalation threshold, how to ask for data."""

    handoff_url: str
    service_token: str
    escalate_at: int = 4
    schema_file: Path = SCHEMA_FILE
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    data_requests_contact: str = DEFAULT_DATA_REQUESTS_CONTACT

    @classmethod
    def from_settings(cls, settings: Settings, data_requests_contact: str = "") -> ActionSettings:
        return cls(
            handoff_url=settings.handoff_url,
            service_token=settings.service_token,
            escalate_at=settings.escalate_at,
            data_requests_contact=data_requests_contact.strip() or DEFAULT_DATA_REQUESTS_CONTACT,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ActionSettings:
        """The shared settings plus `YOUTHLINK_DATA_REQUESTS_CONTACT` (a phrase, e.g. "email
        data@example.org")."""
        return cls.from_settings(
            Settings.from_env(environ), environ.get("YOUTHLINK_DATA_REQUESTS_CONTACT", "")
        )


@cache
def current() -> ActionSettings:
    """This process's settings (the environment is read on the first call only)."""
    return ActionSettings.from_env(os.environ)
