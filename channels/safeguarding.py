"""The safeguarding functions the gateway applies, gathered so entry points choose them once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from youthlink.crypto import Cipher

log = logging.getLogger(__name__)


class Verdict(Protocol):
    """What `safeguarding_rules.screen` returns (only what the gateway reads)."""

    @property
    def severity(self) -> int: ...

    @property
    def categories(self) -> tuple[str, ...]: ...

    @property
    def rule_ids(self) -> tuple[str, ...]: ...

    @property
    def ruleset_version(self) -> str: ...

    def escalate(self, threshold: int = 4) -> bool: ...


class Escalation(Protocol):
    """What `handoff.escalations.record_escalation` returns (only what the gateway reads)."""

    @property
    def escalation_id(self) -> str: ...


RecordEscalation = Callable[..., Escalation]


@dataclass(frozen=True)
class Safeguarding:
    """The screen, the fixed replies and the escalation log."""

    screen: Callable[[str, Sequence[str]], Verdict]
    crisis_reply: Callable[[Any, str], str]
    help_reply: Callable[[str], str]
    record_escalation: RecordEscalation

    def record(
        self,
        session: Session,
        cipher: Cipher,
        *,
        conversation_id: str,
        channel: str,
        severity: int,
        categories: Sequence[str],
        rule_ids: Sequence[str],
        ruleset_version: str,
        excerpt: str,
        age_band: str,
    ) -> str:
        """Record an escalation in the handoff log; returns its id."""
        escalation = self.record_escalation(
            session,
            cipher,
            conversation_id=conversation_id,
            channel=channel,
            severity=severity,
            categories=tuple(categories),
            rule_ids=tuple(rule_ids),
            ruleset_version=ruleset_version,
            excerpt=excerpt,
            age_band=age_band,
        )
        return str(escalation.escalation_id)


def default_safeguarding() -> Safeguarding:
    """The project's rules engine and escalation log (imported here, at the entry point).

    The rules and replies are loaded now: that takes most of a second, which the first message
    screened would otherwise wait for (holding up every other message meanwhile).
    """
    import safeguarding_rules
    from handoff.escalations import record_escalation

    try:
        safeguarding_rules.load_ruleset()
        safeguarding_rules.load_replies()
    except safeguarding_rules.SafeguardingRulesError as exc:
        # Screening reports it again for each message (and lets it through to Rasa's gate).
        log.error("safeguarding rules could not be loaded: %s", type(exc).__name__)

    def screen(text: str, history: Sequence[str]) -> Verdict:
        return safeguarding_rules.screen(text, history=history)  # type: ignore[no-any-return]

    return Safeguarding(
        screen=screen,
        crisis_reply=safeguarding_rules.crisis_reply,
        help_reply=safeguarding_rules.help_reply,
        record_escalation=record_escalation,
    )
