"""A fake Rasa REST channel: a real HTTP server on 127.0.0.1 with scriptable replies.

It can be stopped and started again on the same port to simulate Rasa going down and coming
back, records every request it answers, and can hold requests to simulate a slow turn.

It also serves the one call of Rasa's HTTP API the gateway makes,
`POST /conversations/{id}/tracker/events?token=…` (`pause` / `resume`), and behaves as Rasa
does: a paused conversation's messages get no answer until it is resumed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.ports import free_port

Reply = list[dict[str, Any]]
Responder = Callable[[str, str, dict[str, Any]], Reply]


def echo(sender: str, message: str, metadata: dict[str, Any]) -> Reply:
    """The default bot: repeats the message back."""
    return [{"recipient_id": sender, "text": f"echo: {message}"}]


@dataclass
class FakeRasa:
    """Serve `POST /webhooks/rest/webhook` like Rasa's REST channel does."""

    port: int = 0
    responder: Responder = echo
    requests: list[dict[str, Any]] = field(default_factory=list)
    # The client's port for each message answered: one per TCP connection the client opened.
    peers: list[int] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    status_code: int = 200
    # Rasa's HTTP API: the token it requires ("" = none), how it answers, what it was sent.
    api_token: str = ""
    api_status_code: int = 200
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    paused: set[str] = field(default_factory=set)
    # Keep connections open between requests as Rasa (Sanic) does; off by default so that
    # `stop` really cuts every client off.
    keep_alive: bool = False
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()
        if not self.port:
            self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def messages(self) -> list[str]:
        """The `message` of every request answered so far, in order."""
        with self._lock:
            return [r["message"] for r in self.requests]

    def events_for(self, sender: str) -> list[str]:
        """The names of the events appended to one conversation, in order."""
        with self._lock:
            return [str(event.get("event")) for who, event in self.events if who == sender]

    def _append_events(self, path: str, query: str, payload: Any) -> int:
        """Rasa's `POST /conversations/{id}/tracker/events`; the status to answer with."""
        token = parse_qs(query).get("token", [""])[0]
        if self.api_token and token != self.api_token:
            return 401
        if self.api_status_code != 200:
            return self.api_status_code
        sender = unquote(path[len("/conversations/") : -len("/tracker/events")])
        events = payload if isinstance(payload, list) else [payload]
        with self._lock:
            for event in events:
                self.events.append((sender, dict(event)))
                if event.get("event") == "pause":
                    self.paused.add(sender)
                elif event.get("event") == "resume":
                    self.paused.discard(sender)
        return 200

    def start(self) -> FakeRasa:
        """Listen (again) on the same port."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if fake.keep_alive else "HTTP/1.0"
            # Headers and body go out in two writes: without this, a kept-alive connection
            # waits for the client's delayed acknowledgement (40 ms) between them.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                if parts.path.startswith("/conversations/") and parts.path.endswith(
                    "/tracker/events"
                ):
                    length = int(self.headers.get("Content-Length", "0"))
                    payload = json.loads(self.rfile.read(length) or b"{}")
                    status = fake._append_events(parts.path, parts.query, payload)
                    body = json.dumps({"sender_id": "", "events": []}).encode("utf-8")
                    if status != 200:
                        self.send_error(status)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if self.path.split("?")[0] != "/webhooks/rest/webhook":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                fake.gate.wait(30)
                with fake._lock:
                    fake.requests.append(payload)
                    fake.peers.append(self.client_address[1])
                if fake.status_code != 200:
                    self.send_error(fake.status_code)
                    return
                sender = payload.get("sender", "")
                with fake._lock:
                    paused = sender in fake.paused
                reply = [] if paused else fake.responder(
                    sender, payload.get("message", ""), payload.get("metadata") or {},
                )  # fmt: skip
                body = json.dumps(reply).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        deadline = time.monotonic() + 10
        while True:
            try:
                server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until `start` is called again."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
