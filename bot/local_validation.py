"""Runs the forms' validation actions inside the Rasa server instead of calling the action server.

Every answer to a form's question made Rasa call `validate_<form>` on the action server, sending
the whole tracker and the domain as JSON for the action server to parse back: under 16
concurrent conversations that call was about a fifth of the Rasa server's CPU, and most of the
action server's. The validators are pure functions of the tracker (`actions/forms.py`, no I/O),
so, installed by `bot.speedups`, this runs the same rasa-sdk classes with rasa-sdk's own
`ActionExecutor`, on the call Rasa would have sent, and turns the answer into events with Rasa's
own code for action-server answers. The answer passes through JSON on the way back, as it would
over the wire, so the events are the ones the action server's answer gives (a test compares
both on every form turn of the training and test stories). An error in a validator is raised as
Rasa raises an action server's error.

Every other custom action (routing, the summary, submitting the referral, erasure) still runs
on the action server. A change to `actions/forms.py` or what it reads needs the Rasa server
restarted as well as the action server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rasa
import ujson
from rasa.core.actions import forms as rasa_forms
from rasa.core.actions.action import Action, ActionExecutionRejection, RemoteAction
from rasa.shared.core.trackers import EventVerbosity
from rasa.shared.exceptions import RasaException
from rasa_sdk import ActionExecutionRejection as SdkRejection
from rasa_sdk.executor import ActionExecutor

from actions.forms import ValidateDeleteForm, ValidateReferralForm, ValidateSafetyForm
from bot.event_cache import deserialise_events

if TYPE_CHECKING:
    from rasa.core.channels.channel import OutputChannel
    from rasa.core.nlg import NaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

VALIDATIONS = (ValidateReferralForm, ValidateSafetyForm, ValidateDeleteForm)
"""The validation actions run here: every form's."""

_original_remote_action = RemoteAction
_executor: ActionExecutor | None = None
_domain_dicts: dict[int, tuple[Domain, dict[str, Any]]] = {}


def executor() -> ActionExecutor:
    """rasa-sdk's executor, holding the validation actions only."""
    global _executor
    if _executor is None:
        found = ActionExecutor()
        for action in VALIDATIONS:
            found.register_action(action)
        _executor = found
    return _executor


def local_names() -> frozenset[str]:
    """The names of the actions run here."""
    return frozenset(executor().actions)


def domain_dict(domain: Domain) -> dict[str, Any]:
    """The domain as the action server receives it, worked out once per domain."""
    # The domain is the loaded model's: the same object for every call until a new model loads.
    found = _domain_dicts.get(id(domain))
    if found is None or found[0] is not domain:
        _domain_dicts.clear()
        found = (domain, ujson.loads(ujson.dumps(domain.as_dict())))
        _domain_dicts[id(domain)] = found
    return found[1]


class LocalValidation(Action):
    """`validate_<form>`, run by the rasa-sdk action in the Rasa process."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    async def run(
        self,
        output_channel: OutputChannel,
        nlg: NaturalLanguageGenerator,
        tracker: DialogueStateTracker,
        domain: Domain,
    ) -> list[Event]:
        call = {
            "next_action": self._name,
            "sender_id": tracker.sender_id,
            "tracker": tracker.current_state(EventVerbosity.ALL),
            "domain": domain_dict(domain),
            "version": rasa.__version__,
        }
        try:
            answer = await executor().run(call)  # type: ignore[arg-type]
        except SdkRejection as error:
            raise ActionExecutionRejection(error.action_name, error.message) from error
        except Exception as error:
            raise RasaException(f"Failed to execute custom action '{self._name}'") from error
        # As the action server's answer arrives: JSON types only, nothing shared with the tracker.
        answer = ujson.loads(ujson.dumps(answer or {}))
        messages = await RemoteAction._utter_responses(
            answer.get("responses", []), output_channel, nlg, tracker
        )
        return [*messages, *deserialise_events(answer.get("events", []))]


def validation_action(name: str, action_endpoint: EndpointConfig | None) -> Action:
    """The action a form calls to validate its slots: run here when it is one of ours."""
    if name in local_names():
        return LocalValidation(name)
    return _original_remote_action(name, action_endpoint)


def install() -> None:
    """Make Rasa's forms validate their slots here."""
    # `FormAction.validate_slots` is the only user of the name in Rasa's forms module.
    rasa_forms.RemoteAction = validation_action  # type: ignore[assignment,misc]
