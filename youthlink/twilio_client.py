"""HTTP clients for the twilio SDK that can send its requests to another API base URL.

`YOUTHLINK_TWILIO_API_BASE` (`Settings.twilio_api_base`) points the SDK at a proxy or, in tests,
at a fake Twilio on 127.0.0.1: `https://api.twilio.com/...` becomes `{api_base}/...`. Empty means
the real Twilio. Other Twilio hosts are left alone. The clients also

- answer 429 (and 503 with Retry-After) with `TwilioRateLimited`, a `TwilioRestException` that
  carries the `Retry-After` delay, which the SDK's own exception does not;
- log method, path and status only (the SDK's own logging prints query parameters, which can
  hold phone numbers);
- have a default timeout, also for the asynchronous client (the SDK's has none).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0


def rewrite_url(url: str, api_base: str) -> str:
    """`url` with the Twilio REST API's origin replaced by `api_base` (unchanged when empty)."""
    if not api_base or not url.startswith(TWILIO_API):
        return url
    rest = url[len(TWILIO_API) :]
    if rest and rest[0] not in "/?":
        return url  # e.g. https://api.twilio.com.example.org
    return api_base.rstrip("/") + rest


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from now, if readable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class TwilioRateLimited(TwilioRestException):
    """Twilio refused the request for now; `retry_after` is its suggested wait in seconds."""

    def __init__(
        self,
        status: int,
        uri: str,
        msg: str = "",
        code: int | None = None,
        method: str = "GET",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, uri, msg, code, method)
        self.retry_after = retry_after


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _check_rate_limit(method: str, url: str, response: Response) -> None:
    retry_after = retry_after_seconds(_header(response.headers, "retry-after"))
    if response.status_code != 429 and not (response.status_code == 503 and retry_after):
        return
    code, message = None, "Too Many Requests"
    try:
        payload = json.loads(response.text)
        code, message = payload.get("code"), str(payload.get("message") or message)
    except (ValueError, AttributeError):
        pass
    raise TwilioRateLimited(response.status_code, url, message, code, method, retry_after)


def _basic(auth: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")


def _path(url: str) -> str:
    return urlsplit(url).path


class RewritingHttpClient(TwilioHttpClient):
    """The SDK's synchronous client, sending API requests to `api_base` when it is set."""

    def __init__(
        self, api_base: str = "", *, timeout: float | None = DEFAULT_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(timeout=timeout, logger=log, **kwargs)
        self.api_base = api_base

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        url = rewrite_url(url, self.api_base)
        response = super().request(
            method, url, params, data, headers, auth, timeout, allow_redirects
        )
        _check_rate_limit(method, url, response)
        return response

    def log_request(self, kwargs: dict[str, Any]) -> None:
        self.logger.debug("twilio %s %s", kwargs["method"], _path(kwargs["url"]))

    def log_response(self, status_code: int, response: Any) -> None:
        self.logger.debug("twilio answered %s", status_code)


class AsyncRewritingHttpClient(AsyncTwilioHttpClient):
    """The SDK's asynchronous client (aiohttp), sending API requests to `api_base` when set.

    Create it inside the running event loop and `await close()` it when done.
    """

    def __init__(
        self, api_base: str = "", *, timeout: float | None = DEFAULT_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(timeout=timeout, logger=log, **kwargs)
        self.api_base = api_base

    async def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        url = rewrite_url(url, self.api_base)
        if auth is not None:
            # As a header: aiohttp deprecates its BasicAuth, which the SDK would use.
            headers = {**(headers or {}), "Authorization": _basic(auth)}
        response = await super().request(
            method,
            url,
            params,
            data,
            headers,
            None,
            timeout if timeout is not None else self.timeout,
            allow_redirects,
        )
        _check_rate_limit(method, url, response)
        return response

    def log_request(self, kwargs: dict[str, Any]) -> None:
        self.logger.debug("twilio %s %s", kwargs["method"], _path(kwargs["url"]))

    def log_response(self, status_code: int, response: Any) -> None:
        self.logger.debug("twilio answered %s", status_code)


def twilio_client(
    account_sid: str,
    auth_token: str,
    *,
    api_base: str = "",
    timeout: float | None = DEFAULT_TIMEOUT,
    asynchronous: bool = False,
) -> Client:
    """A twilio `Client` whose requests go to `api_base` (the real Twilio when empty).

    `asynchronous=True` gives one for the SDK's `*_async` methods; build that one inside the
    running event loop and close it with `await client.http_client.close()`.
    """
    http_client: TwilioHttpClient | AsyncTwilioHttpClient
    if asynchronous:
        http_client = AsyncRewritingHttpClient(api_base, timeout=timeout)
    else:
        http_client = RewritingHttpClient(api_base, timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)
