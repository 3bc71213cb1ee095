"""The common part of the fake provider APIs: a real HTTP server on 127.0.0.1 in a thread.

Each fake records every request it receives (answered or refused), can be stopped and started
again on the same port, can answer slowly, and lets a test wait until some request arrived.
Subclasses implement `answer(request) -> Answer`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from typing_extensions import Self

T = TypeVar("T")


@dataclass(frozen=True)
class Incoming:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    received_at: float  # time.time() when the request was read

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def form(self) -> dict[str, list[str]]:
        """The url-encoded form fields of the body (every value of repeated fields)."""
        if self.content_type != "application/x-www-form-urlencoded":
            return {}
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class Answer:
    """What the fake sends back."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Answer:
        return cls(status, json.dumps(payload).encode("utf-8"), headers=dict(headers or {}))


@dataclass(frozen=True)
class Exchange:
    """A request and the status it was answered with."""

    request: Incoming
    status: int


class FakeServer:
    """A threaded HTTP server on 127.0.0.1 that records every exchange."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.port = 0
        self.latency = latency
        self.exchanges: list[Exchange] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- to implement ------------------------------------------------------------------------

    def answer(self, request: Incoming) -> Answer:
        raise NotImplementedError

    # -- running -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Self:
        """Listen (again, on the same port after the first start)."""
        self._listen()
        return self

    def _listen(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Incoming(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    received_at=time.time(),
                )
                if fake.latency:
                    time.sleep(fake.latency)
                try:
                    answer = fake.answer(request)
                except Exception as exc:  # a bug in a fake must show, not hang the client
                    answer = Answer.of_json(500, {"fake_error": repr(exc)})
                fake._record(Exchange(request, answer.status))
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test): nothing to tell it

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        deadline = time.monotonic() + 10
        while True:
            try:
                server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                if not self.port or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        server.daemon_threads = True
        server.block_on_close = False
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until `start` is called again."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._changed:
            self._changed.notify_all()

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- recording -----------------------------------------------------------------------------

    def _record(self, exchange: Exchange) -> None:
        with self._changed:
            self.exchanges.append(exchange)
            self._changed.notify_all()

    def notify(self) -> None:
        """Wake anyone waiting in `wait_for` (state other than exchanges changed)."""
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, found: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Wait until `found()` is truthy (checked after every request); its value, else raise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = found()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{type(self).__name__}: condition not met in {timeout}s")
                self._changed.wait(remaining)

    def clear(self) -> None:
        """Forget every recorded exchange."""
        with self._lock:
            self.exchanges.clear()
