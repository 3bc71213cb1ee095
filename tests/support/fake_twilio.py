"""A fake Twilio REST API (Programmable Messaging) on 127.0.0.1, for the twilio 9 SDK.

Point the SDK at it with `youthlink.twilio_client` (`twilio_client(..., api_base=fake.url)`):
requests to https://api.twilio.com are rewritten to the fake, over real HTTP.

- `POST /2010-04-01/Accounts/{sid}/Messages.json` creates a message (201, JSON like Twilio's,
  `sid` "SM..."), checking HTTP Basic auth (`account_sid:auth_token`) and the form fields;
  `GET .../Messages/{MessageSid}.json` fetches one.
- Every request is recorded (`exchanges`); created messages are in `messages`.
- Failures are scriptable: `fail_next(2)` (500s), `fail_next(1, status=429, retry_after=3)`,
  `unsubscribe("+447700900123")` (Twilio error 21610 for that recipient), `latency` (slow API),
  `stop()`/`start()` (connection refused, then back on the same port).
- Status callbacks: with `callback_statuses=("sent", "delivered")` the fake posts those statuses
  to each message's `StatusCallback`, signed with `X-Twilio-Signature` like Twilio does.
- `post_inbound(url, From=..., Body=...)` posts a signed inbound-message webhook to a gateway.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from tests.support.fake_http import Answer, FakeServer, Incoming

API_VERSION = "2010-04-01"
MESSAGES = re.compile(rf"^/{API_VERSION}/Accounts/(?P<sid>AC\w+)/Messages\.json$")
MESSAGE = re.compile(rf"^/{API_VERSION}/Accounts/(?P<sid>AC\w+)/Messages/(?P<msid>\w+)\.json$")
# E.164, optionally on a channel such as WhatsApp (whatsapp:+44...).
ADDRESS = re.compile(r"^(?:[a-z]+:)?\+[1-9]\d{6,14}$")
MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


def new_account_sid() -> str:
    """A made-up account SID in Twilio's format."""
    return "AC" + secrets.token_hex(16)


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _error(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> Answer:
    payload = {
        "code": code,
        "message": message,
        "more_info": MORE_INFO.format(code=code),
        "status": status,
    }
    return Answer.of_json(status, payload, headers)


@dataclass(frozen=True)
class Failure:
    """A scripted failure for the next matching request."""

    status: int = 500
    retry_after: float | None = None
    code: int | None = None
    path_contains: str = ""


@dataclass(frozen=True)
class SentMessage:
    """A message the fake accepted."""

    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    fields: Mapping[str, Sequence[str]]
    received_at: float

    def as_resource(self) -> dict[str, Any]:
        """The message as Twilio's API returns it."""
        now = formatdate(self.received_at, usegmt=False).replace("-0000", "+0000")
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": next(iter(self.fields.get("MessagingServiceSid", ())), None),
            "num_media": str(len(self.fields.get("MediaUrl", []))),
            "num_segments": str(1 if len(self.body) <= 160 else -(-len(self.body) // 153)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": self.to,
            "uri": uri,
        }


class FakeTwilio(FakeServer):
    """Answers the Messages API like Twilio; see the module docstring."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        latency: float = 0.0,
        callback_statuses: Sequence[str] = (),
    ) -> None:
        super().__init__(latency=latency)
        self.account_sid = account_sid or new_account_sid()
        self.auth_token = auth_token or secrets.token_hex(16)
        self.callback_statuses = tuple(callback_statuses)
        self.messages: list[SentMessage] = []
        self.unsubscribed: set[str] = set()
        self.callback_results: list[tuple[str, str, int]] = []  # (message sid, status, HTTP status)
        self._failures: deque[Failure] = deque()

    # -- scripting -----------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        retry_after: float | None = None,
        code: int | None = None,
        path_contains: str = "",
    ) -> None:
        """Answer the next `count` matching requests with `status` (and a Retry-After header)."""
        with self._lock:
            self._failures.extend(
                Failure(status, retry_after, code, path_contains) for _ in range(count)
            )

    def unsubscribe(self, address: str) -> None:
        """The recipient replied STOP: sending to them fails with Twilio error 21610."""
        with self._lock:
            self.unsubscribed.add(address)

    # -- reading -------------------------------------------------------------------------------

    def sent(self) -> list[SentMessage]:
        """The accepted messages so far, in order."""
        with self._lock:
            return list(self.messages)

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until at least `count` messages were accepted; all of them."""
        return self.wait_for(lambda: self.sent() if len(self.messages) >= count else None, timeout)

    def message_requests(self) -> list[Incoming]:
        """Every request to the Messages list resource (accepted or not), in order."""
        with self._lock:
            return [e.request for e in self.exchanges if MESSAGES.match(e.request.path)]

    # -- answering -----------------------------------------------------------------------------

    def _take_failure(self, request: Incoming) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.path_contains in request.path:
                    self._failures.remove(failure)
                    return failure
        return None

    def _authorised(self, request: Incoming) -> bool:
        pair = f"{self.account_sid}:{self.auth_token}".encode()
        expected = "Basic " + base64.b64encode(pair).decode("ascii")
        return secrets.compare_digest(request.headers.get("authorization", ""), expected)

    def answer(self, request: Incoming) -> Answer:
        failure = self._take_failure(request)
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = f"{failure.retry_after:g}"
            code = failure.code or (20429 if failure.status == 429 else 20500)
            message = "Too Many Requests" if failure.status == 429 else "Internal Server Error"
            return _error(failure.status, code, message, headers)
        if not self._authorised(request):
            return _error(401, 20003, "Authenticate")
        listing = MESSAGES.match(request.path)
        if listing and request.method == "POST":
            return self._create(request, listing.group("sid"))
        one = MESSAGE.match(request.path)
        if one and request.method == "GET":
            return self._fetch(one.group("sid"), one.group("msid"))
        return _error(404, 20404, f"The requested resource {request.path} was not found")

    def _create(self, request: Incoming, account_sid: str) -> Answer:
        if account_sid != self.account_sid:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        form = request.form()

        def one(name: str) -> str:
            return (form.get(name) or [""])[0]

        to, from_, body = one("To"), one("From"), one("Body")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not ADDRESS.match(to):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not from_ and not one("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body and not form.get("MediaUrl") and not one("ContentSid"):
            return _error(400, 21602, "Message body is required.")
        if len(body) > 1600:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 limit.")
        with self._lock:
            if to in self.unsubscribed:
                return _error(400, 21610, "Attempt to send to unsubscribed recipient")
            message = SentMessage(
                sid=_sid("SM"),
                account_sid=account_sid,
                to=to,
                from_=from_,
                body=body,
                status_callback=one("StatusCallback") or None,
                fields={k: list(v) for k, v in form.items()},
                received_at=request.received_at,
            )
            self.messages.append(message)
        if message.status_callback and self.callback_statuses:
            threading.Thread(target=self._call_back, args=(message,), daemon=True).start()
        return Answer.of_json(201, message.as_resource())

    def _fetch(self, account_sid: str, message_sid: str) -> Answer:
        with self._lock:
            found = [m for m in self.messages if m.sid == message_sid]
        if account_sid != self.account_sid or not found:
            return _error(404, 20404, f"The requested resource {message_sid} was not found")
        return Answer.of_json(200, found[0].as_resource())

    # -- calling out (status callbacks, inbound messages) ----------------------------------------

    def signature(self, url: str, params: Mapping[str, str]) -> str:
        """The `X-Twilio-Signature` Twilio would send for a form POST of `params` to `url`."""
        return str(RequestValidator(self.auth_token).compute_signature(url, dict(params)))

    def post_signed(self, url: str, params: Mapping[str, str]) -> httpx.Response:
        """POST a form to `url` signed as Twilio signs webhooks."""
        headers = {
            "X-Twilio-Signature": self.signature(url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        return httpx.post(url, data=dict(params), headers=headers, timeout=10)

    def post_inbound(
        self, url: str, *, From: str, Body: str, To: str = "+447700900000", **extra: str
    ) -> httpx.Response:
        """Deliver an inbound message webhook (SMS, or WhatsApp with `whatsapp:` addresses)."""
        sid = _sid("SM")
        params = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.account_sid,
            "From": From,
            "To": To,
            "Body": Body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
            **extra,
        }
        return self.post_signed(url, params)

    def _call_back(self, message: SentMessage) -> None:
        assert message.status_callback is not None
        for status in self.callback_statuses:
            params = {
                "MessageSid": message.sid,
                "SmsSid": message.sid,
                "AccountSid": message.account_sid,
                "From": message.from_,
                "To": message.to,
                "MessageStatus": status,
                "SmsStatus": status,
                "ApiVersion": API_VERSION,
            }
            try:
                code = self.post_signed(message.status_callback, params).status_code
            except httpx.HTTPError:
                code = 0
            with self._lock:
                self.callback_results.append((message.sid, status, code))
            self.notify()
