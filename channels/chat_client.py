"""`youthlink chat`: talk to the running assistant through the gateway's local channel.

Interactive by default (buttons shown as numbered options). With `--script FILE` it runs
scripted conversations (JSON lines with `id` and `answers`) and prints one JSON line each:
the transcript, the stored referral and the escalations.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from youthlink.config import Settings
from youthlink.errors import YouthLinkError

DEFAULT_MAX_TURNS = 40
LATE_REPLY_SECONDS = 120.0


class ChatError(Exception):
    """The assistant could not be reached."""


@dataclass
class Turn:
    """What the young person said and every bot message that followed."""

    user: str
    bot: list[dict[str, Any]] = field(default_factory=list)


class GatewayClient:
    """The local channel API: send a message, read later ones."""

    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        self._url = settings.gateway_url.rstrip("/") + "/local/messages"
        self._headers = {"Authorization": f"Bearer {settings.local_token}"}
        self._client = client

    def send(self, address: str, text: str) -> dict[str, Any]:
        """Send one message; the gateway waits until it has been answered (or is delayed)."""
        body = {"address": address, "text": text, "message_id": uuid.uuid4().hex}
        return self._call("POST", json=body)

    def after(self, address: str, cursor: int) -> dict[str, Any]:
        """Messages of this conversation queued after `cursor`."""
        return self._call("GET", params={"address": address, "after": cursor})

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._client.request(method, self._url, headers=self._headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ChatError(f"cannot reach the gateway at {self._url} ({exc})") from exc
        if response.status_code == 401:
            raise ChatError("the gateway refused the local token (YOUTHLINK_LOCAL_TOKEN)")
        if response.status_code >= 400:
            raise ChatError(f"the gateway answered {response.status_code}: {response.text[:200]}")
        data: dict[str, Any] = response.json()
        return data


def exchange(
    gateway: GatewayClient,
    address: str,
    text: str,
    *,
    wait: float = LATE_REPLY_SECONDS,
    show: Callable[[Sequence[Mapping[str, Any]]], object] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Send `text`; return the conversation id and the bot's messages.

    When the answer is delayed (a holding reply), later messages are collected until the
    real answer arrives or `wait` seconds pass. `show` sees each batch as it arrives.
    """
    data = gateway.send(address, text)
    messages = list(data["messages"])
    if show is not None:
        show(messages)
    if data.get("pending"):
        for message in _later(gateway, address, messages, int(data.get("cursor") or 0), wait):
            messages.append(message)
            if show is not None:
                show([message])
    return str(data["conversation_id"]), messages


def _later(
    gateway: GatewayClient,
    address: str,
    seen: Sequence[Mapping[str, Any]],
    cursor: int,
    wait: float,
) -> Iterator[dict[str, Any]]:
    cursor = max([cursor] + [int(m.get("id", 0)) for m in seen])
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.5)
        for message in gateway.after(address, cursor)["messages"]:
            cursor = max(cursor, int(message["id"]))
            yield message
            if message.get("kind") == "reply":
                # The real answer is here; take whatever follows it closely, then stop.
                deadline = min(deadline, time.monotonic() + 1.0)


def pending_question(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The `asking` key of the last bot message that has one."""
    for message in reversed(messages):
        if message.get("asking"):
            return str(message["asking"])
    return None


def run_script_case(
    gateway: GatewayClient,
    handoff: httpx.Client,
    settings: Settings,
    case: Mapping[str, Any],
    *,
    max_turns: int = DEFAULT_MAX_TURNS,
) -> dict[str, Any]:
    """Play one scripted conversation from a fresh address; fetch what was stored."""
    answers: Mapping[str, str] = case.get("answers", {})
    address = "script-" + uuid.uuid4().hex
    transcript: list[Turn] = []
    conversation_id: str | None = None
    text = answers.get("opening", "hi")
    for _ in range(max_turns):
        conversation_id, data_messages = exchange(gateway, address, text)
        transcript.append(Turn(user=text, bot=data_messages))
        asking = pending_question(data_messages)
        if asking is None:
            break
        text = answers.get(asking, "skip")
    referral, escalations = None, []
    if conversation_id is not None:
        headers = {"Authorization": f"Bearer {settings.service_token}"}
        base = settings.handoff_url.rstrip("/")
        params = {"conversation_id": conversation_id}
        referrals = _get_json(handoff, f"{base}/api/referrals", params, headers)
        referral = referrals[-1] if referrals else None
        escalations = _get_json(handoff, f"{base}/api/escalations", params, headers)
    return {
        "id": case.get("id"),
        "conversation_id": conversation_id,
        "transcript": [
            {"user": turn.user, "bot": [m.get("text", "") for m in turn.bot]} for turn in transcript
        ],
        "referral": referral,
        "escalations": escalations,
    }


def _get_json(
    client: httpx.Client, url: str, params: Mapping[str, str], headers: Mapping[str, str]
) -> list[Any]:
    try:
        response = client.get(url, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise ChatError(f"cannot reach the handoff API at {url} ({exc})") from exc
    if response.status_code != 200:
        raise ChatError(f"the handoff API answered {response.status_code} for {url}")
    data = response.json()
    return data if isinstance(data, list) else []


def run_script(
    settings: Settings, path: Path, out: TextIO, *, max_turns: int = DEFAULT_MAX_TURNS
) -> int:
    """Run every scripted conversation in `path`; one JSON line each to `out`."""
    cases = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    timeout = httpx.Timeout(60.0, connect=5.0)
    with httpx.Client(timeout=timeout) as client:
        gateway = GatewayClient(settings, client)
        for case in cases:
            result = run_script_case(gateway, client, settings, case, max_turns=max_turns)
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
            out.flush()
    return 0


def _show(messages: Sequence[Mapping[str, Any]], out: TextIO) -> None:
    for message in messages:
        out.write(f"bot> {message.get('text', '')}\n")
        for number, button in enumerate(message.get("buttons") or [], start=1):
            out.write(f"       {number}. {button.get('title', '')}\n")
    out.flush()


def _buttons_of(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The buttons of the latest message that offered any (what a typed number picks from)."""
    for message in reversed(messages):
        if message.get("buttons"):
            return list(message["buttons"])
    return []


def run_interactive(settings: Settings, stdin: TextIO, out: TextIO) -> int:
    """Chat in the terminal; a number picks an offered option. Ctrl-D or Ctrl-C ends."""
    address = "terminal-" + uuid.uuid4().hex
    out.write("Chatting with YouthLink (Ctrl-D to stop). Type a number to pick an option.\n")
    out.flush()
    buttons: list[dict[str, Any]] = []
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=5.0)) as client:
        gateway = GatewayClient(settings, client)
        while True:
            out.write("you> ")
            out.flush()
            try:
                line = stdin.readline()
            except KeyboardInterrupt:
                break
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text.isdigit() and 1 <= int(text) <= len(buttons):
                text = str(buttons[int(text) - 1].get("payload", text))
            try:
                _, messages = exchange(gateway, address, text, show=lambda ms: _show(ms, out))
            except KeyboardInterrupt:
                break
            except ChatError as exc:
                out.write(f"(not sent: {exc})\n")
                continue
            buttons = _buttons_of(messages)
    out.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `youthlink chat`."""
    parser = argparse.ArgumentParser(prog="youthlink chat", description=__doc__)
    parser.add_argument("--script", type=Path, help="JSON lines of scripted conversations")
    parser.add_argument("--max-turns", type=int, default=DEFAULT_MAX_TURNS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `youthlink chat`."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        settings = Settings.from_env()
        if not settings.local_token:
            raise ChatError(
                "YOUTHLINK_LOCAL_TOKEN is not set: use `make chat` (or `make chat SCRIPT=file`), "
                "or load the env file first: set -a; . ./.env; set +a"
            )
        if args.script is not None:
            return run_script(settings, args.script, sys.stdout, max_turns=args.max_turns)
        return run_interactive(settings, sys.stdin, sys.stdout)
    except (ChatError, YouthLinkError) as exc:
        print(f"youthlink chat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
