"""A fake Telegram Bot API on 127.0.0.1, for python-telegram-bot (`Bot(token, base_url=...)`).

`Bot(fake.token, base_url=fake.base_url)` talks to it over real HTTP.

- `POST|GET /bot{token}/{method}` with url-encoded, multipart or JSON parameters, answered
  `{"ok": true, "result": ...}` like Telegram: getMe, sendMessage, sendChatAction,
  answerCallbackQuery, editMessageText, editMessageReplyMarkup, setWebhook, deleteWebhook,
  getWebhookInfo, getUpdates (from a queue the test fills); more with `handlers[method] = fn`.
- Every request is recorded (`exchanges`, decoded in `calls()`); sent messages in `sent()`.
- Failures are scriptable: `fail_next(2)` (500s), `fail_next(1, status=429, retry_after=3)`
  (`parameters.retry_after` like Telegram's flood control), `block(chat_id)` (403: the user
  blocked the bot), `known_chats` (400 "chat not found" for others), `latency`, `stop()`/`start()`.
- Updates: `push(update)` queues one for getUpdates; `deliver(update)` posts it to the webhook
  set with setWebhook, with its `X-Telegram-Bot-Api-Secret-Token`; `message_update(...)` and
  `callback_update(...)` build realistic updates.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx

from tests.support.fake_http import Answer, FakeServer, Incoming

ROUTE = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
LONG_POLL_CAP = 2.0  # seconds a getUpdates long poll may hold a test up at most

Params = dict[str, Any]
Handler = Callable[[Params], Any]


def new_bot_token() -> str:
    """A made-up token in Telegram's format."""
    return f"{secrets.randbelow(10**9) + 10**9}:{secrets.token_urlsafe(26)}"


class TelegramFailure(Exception):
    """Raised by a handler to answer with a Telegram error."""

    def __init__(self, status: int, description: str, parameters: Params | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


@dataclass(frozen=True)
class Failure:
    """A scripted failure for the next call of `method` (any method when None)."""

    status: int = 500
    retry_after: int | None = None
    method: str | None = None


@dataclass(frozen=True)
class Call:
    """One Bot API call as received (parameters decoded)."""

    token: str
    method: str
    params: Params
    status: int
    received_at: float


@dataclass(frozen=True)
class SentMessage:
    """A message the fake accepted from sendMessage."""

    chat_id: str
    text: str
    message_id: int
    params: Params
    received_at: float


def _decode_value(value: str) -> Any:
    # python-telegram-bot sends objects (reply_markup, allowed_updates) as JSON text and
    # strings as they are, so only what looks like JSON structure is decoded.
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _multipart(request: Incoming) -> Params:
    header = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + request.body)
    params: Params = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if part.get_filename():
            params[name] = payload
        else:
            params[name] = _decode_value(bytes(payload or b"").decode("utf-8"))
    return params


def decode_params(request: Incoming) -> Params:
    """The call's parameters from the query string and the body (form, multipart or JSON)."""
    params: Params = {k: _decode_value(v[-1]) for k, v in request.query.items()}
    kind = request.content_type
    if kind == "application/json" and request.body:
        params.update(request.json())
    elif kind == "application/x-www-form-urlencoded":
        params.update({k: _decode_value(v[-1]) for k, v in request.form().items()})
    elif kind == "multipart/form-data":
        params.update(_multipart(request))
    return params


class FakeTelegram(FakeServer):
    """Answers the Bot API like Telegram; see the module docstring."""

    def __init__(
        self,
        *,
        token: str | None = None,
        username: str = "youthlink_test_bot",
        latency: float = 0.0,
    ) -> None:
        super().__init__(latency=latency)
        self.token = token or new_bot_token()
        self.bot_user: Params = {
            "id": int(self.token.split(":")[0]) if self.token.split(":")[0].isdigit() else 1,
            "is_bot": True,
            "first_name": "YouthLink",
            "username": username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.known_chats: set[str] | None = None  # None: every chat exists
        self.blocked: set[str] = set()
        self.webhook: Params = {}
        self.handlers: dict[str, Handler] = {}
        self.messages: list[SentMessage] = []
        self._updates: deque[Params] = deque()
        self._next_update_id = 100_000
        self._next_message_id: dict[str, int] = {}
        self._failures: deque[Failure] = deque()

    @property
    def base_url(self) -> str:
        """What to pass as python-telegram-bot's `base_url`."""
        return f"{self.url}/bot"

    @property
    def api_root(self) -> str:
        """The API root, as `YOUTHLINK_TELEGRAM_API_BASE` takes it."""
        return self.url

    # -- scripting -----------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        retry_after: int | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `count` calls (of `method`) with `status` (429: flood control)."""
        with self._lock:
            self._failures.extend(Failure(status, retry_after, method) for _ in range(count))

    def block(self, chat_id: int | str) -> None:
        """The user blocked the bot: sending to this chat answers 403."""
        with self._lock:
            self.blocked.add(str(chat_id))

    def push(self, update: Params) -> Params:
        """Queue an update for getUpdates."""
        with self._lock:
            self._updates.append(update)
        self.notify()
        return update

    def _update_id(self) -> int:
        with self._lock:
            self._next_update_id += 1
            return self._next_update_id

    def _chat(self, chat_id: int | str, first_name: str = "Sam") -> Params:
        return {"id": int(chat_id), "type": "private", "first_name": first_name}

    def message_update(
        self, chat_id: int | str, text: str, *, first_name: str = "Sam", message_id: int = 1
    ) -> Params:
        """An update with a private text message from the user `chat_id`."""
        sender = {"id": int(chat_id), "is_bot": False, "first_name": first_name}
        return {
            "update_id": self._update_id(),
            "message": {
                "message_id": message_id,
                "from": sender,
                "chat": self._chat(chat_id, first_name),
                "date": int(time.time()),
                "text": text,
            },
        }

    def callback_update(
        self, chat_id: int | str, data: str, *, message_id: int = 1, first_name: str = "Sam"
    ) -> Params:
        """An update with a button press (callback query) on a bot message."""
        sender = {"id": int(chat_id), "is_bot": False, "first_name": first_name}
        return {
            "update_id": self._update_id(),
            "callback_query": {
                "id": str(secrets.randbelow(10**18)),
                "from": sender,
                "chat_instance": str(secrets.randbelow(10**18)),
                "data": data,
                "message": {
                    "message_id": message_id,
                    "from": self.bot_user,
                    "chat": self._chat(chat_id, first_name),
                    "date": int(time.time()),
                    "text": "...",
                },
            },
        }

    def deliver(self, update: Params, *, secret_token: str | None = None) -> httpx.Response:
        """POST an update to the webhook (its secret token unless one is given)."""
        url = self.webhook.get("url")
        if not url:
            raise RuntimeError("no webhook set (call setWebhook first)")
        secret = secret_token if secret_token is not None else self.webhook.get("secret_token")
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        return httpx.post(url, json=update, headers=headers, timeout=10)

    # -- reading -------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call received (of `method`), parameters decoded, in order."""
        found = []
        with self._lock:
            exchanges = list(self.exchanges)
        for exchange in exchanges:
            route = ROUTE.match(exchange.request.path)
            if route is None or (method is not None and route.group("method") != method):
                continue
            found.append(
                Call(
                    token=route.group("token"),
                    method=route.group("method"),
                    params=decode_params(exchange.request),
                    status=exchange.status,
                    received_at=exchange.request.received_at,
                )
            )
        return found

    def sent(self) -> list[SentMessage]:
        """The messages accepted so far, in order."""
        with self._lock:
            return list(self.messages)

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until at least `count` messages were accepted; all of them."""
        return self.wait_for(lambda: self.sent() if len(self.messages) >= count else None, timeout)

    # -- answering -----------------------------------------------------------------------------

    def _take_failure(self, method: str) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.method in (None, method):
                    self._failures.remove(failure)
                    return failure
        return None

    def answer(self, request: Incoming) -> Answer:
        route = ROUTE.match(request.path)
        if route is None:
            return _error(404, "Not Found")
        if not secrets.compare_digest(route.group("token"), self.token):
            return _error(401, "Unauthorized")
        method = route.group("method")
        failure = self._take_failure(method)
        if failure is not None:
            if failure.status == 429:
                wait = failure.retry_after or 1
                return _error(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
            return _error(failure.status, "Internal Server Error")
        handler = self.handlers.get(method) or getattr(self, f"_on_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        try:
            result = handler(decode_params(request))
        except TelegramFailure as exc:
            return _error(exc.status, exc.description, exc.parameters)
        return Answer.of_json(200, {"ok": True, "result": result})

    # -- methods -----------------------------------------------------------------------------

    def _check_chat(self, params: Params) -> str:
        chat_id = str(params.get("chat_id", "")).strip()
        if not chat_id:
            raise TelegramFailure(400, "Bad Request: chat_id is empty")
        with self._lock:
            if chat_id in self.blocked:
                raise TelegramFailure(403, "Forbidden: bot was blocked by the user")
            if self.known_chats is not None and chat_id not in self.known_chats:
                raise TelegramFailure(400, "Bad Request: chat not found")
        return chat_id

    def _message(self, chat_id: str, message_id: int, text: str, params: Params) -> Params:
        message: Params = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self._chat(chat_id) if chat_id.lstrip("-").isdigit() else {"id": 0},
            "date": int(time.time()),
            "text": text,
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _on_getMe(self, params: Params) -> Params:
        return self.bot_user

    def _on_sendMessage(self, params: Params) -> Params:
        chat_id = self._check_chat(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise TelegramFailure(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise TelegramFailure(400, "Bad Request: message is too long")
        with self._lock:
            message_id = self._next_message_id.get(chat_id, 0) + 1
            self._next_message_id[chat_id] = message_id
            self.messages.append(SentMessage(chat_id, text, message_id, dict(params), time.time()))
        return self._message(chat_id, message_id, text, params)

    def _on_sendChatAction(self, params: Params) -> bool:
        self._check_chat(params)
        return True

    def _on_answerCallbackQuery(self, params: Params) -> bool:
        if not params.get("callback_query_id"):
            raise TelegramFailure(400, "Bad Request: query is too old or query ID is invalid")
        return True

    def _on_editMessageText(self, params: Params) -> Params:
        chat_id = self._check_chat(params)
        message_id = int(params.get("message_id", 0))
        return self._message(chat_id, message_id, str(params.get("text", "")), params)

    def _on_editMessageReplyMarkup(self, params: Params) -> Params:
        chat_id = self._check_chat(params)
        return self._message(chat_id, int(params.get("message_id", 0)), "...", params)

    def _on_setWebhook(self, params: Params) -> bool:
        url = str(params.get("url", ""))
        with self._lock:
            if not url:
                self.webhook = {}
                return True
            if not url.startswith(("https://", "http://127.0.0.1")):
                raise TelegramFailure(400, "Bad Request: bad webhook: HTTPS url must be provided")
            self.webhook = dict(params)
            if params.get("drop_pending_updates") in (True, "true", "True"):
                self._updates.clear()
        return True

    def _on_deleteWebhook(self, params: Params) -> bool:
        with self._lock:
            self.webhook = {}
            if params.get("drop_pending_updates") in (True, "true", "True"):
                self._updates.clear()
        return True

    def _on_getWebhookInfo(self, params: Params) -> Params:
        with self._lock:
            return {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    def _on_getUpdates(self, params: Params) -> list[Params]:
        with self._lock:
            if self.webhook.get("url"):
                raise TelegramFailure(
                    409, "Conflict: can't use getUpdates method while webhook is active"
                )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        wait = min(float(params.get("timeout") or 0), LONG_POLL_CAP)

        def ready() -> list[Params] | None:
            if offset:  # confirms every update before it
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
            return list(self._updates)[:limit] or None

        if wait <= 0:
            with self._lock:
                return ready() or []
        try:
            return self.wait_for(ready, wait)
        except TimeoutError:
            return []


def _error(status: int, description: str, parameters: Mapping[str, Any] | None = None) -> Answer:
    payload: Params = {"ok": False, "error_code": status, "description": description}
    if parameters:
        payload["parameters"] = dict(parameters)
    return Answer.of_json(status, payload)
