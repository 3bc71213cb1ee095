"""Trackers from JSON and a fake handoff API (a real HTTP server on 127.0.0.1) for action tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker

DATA = Path(__file__).with_name("data")


def tracker_from_json(name: str, **overrides: Any) -> Tracker:
    """A tracker from tests/actions/data/<name>.json; `slots`, `latest_message`... override."""
    state = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    slots = {**state.get("slots", {}), **overrides.pop("slots", {})}
    state.update(overrides)
    return Tracker(
        sender_id=state.get("sender_id", "conv-test"),
        slots=slots,
        latest_message=state.get("latest_message", {}),
        events=state.get("events", []),
        paused=False,
        followup_action=None,
        active_loop=state.get("active_loop", {}),
        latest_action_name=state.get("latest_action_name", "action_listen"),
    )


def user_said(text: str, intent: str = "inform", **extra: Any) -> dict[str, Any]:
    """A latest_message as Rasa sends it to the action server."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": extra.pop("entities", []),
        "metadata": extra.pop("metadata", {"channel": "sms"}),
        **extra,
    }


@dataclass
class FakeHandoff:
    """What the fake handoff API received, and what it answers next (status, body)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[tuple[int, Any]] = field(default_factory=list)

    def next_reply(self, default: tuple[int, Any]) -> tuple[int, Any]:
        return self.replies.pop(0) if self.replies else default


@contextmanager
def fake_handoff() -> Iterator[FakeHandoff]:
    """Serve the handoff API's referral and draft endpoints on a free port of 127.0.0.1."""
    state = FakeHandoff()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "body": body,
                }
            )

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self._record()
            body = state.requests[-1]["body"] or {}
            referral_id = (body.get("referral") or {}).get("referral_id")
            self._reply(*state.next_reply((201, {"referral_id": referral_id})))

        def do_DELETE(self) -> None:
            self._record()
            self._reply(*state.next_reply((204, None)))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def texts_of(dispatcher_messages: list[Mapping[str, Any]]) -> list[str]:
    return [str(m.get("text") or "") for m in dispatcher_messages]
