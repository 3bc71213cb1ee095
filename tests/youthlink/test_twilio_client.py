"""Pointing the twilio SDK at another API base, and reading Twilio's Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from youthlink.twilio_client import (
    AsyncRewritingHttpClient,
    RewritingHttpClient,
    retry_after_seconds,
    rewrite_url,
    twilio_client,
)

pytestmark = pytest.mark.unit

MESSAGES = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"


def test_api_urls_go_to_the_configured_base() -> None:
    assert rewrite_url(MESSAGES, "http://127.0.0.1:9999") == (
        "http://127.0.0.1:9999/2010-04-01/Accounts/AC123/Messages.json"
    )
    assert rewrite_url(MESSAGES, "https://proxy.example.org/twilio/") == (
        "https://proxy.example.org/twilio/2010-04-01/Accounts/AC123/Messages.json"
    )
    assert rewrite_url("https://api.twilio.com?x=1", "http://fake") == "http://fake?x=1"


def test_without_a_base_or_for_other_hosts_urls_are_unchanged() -> None:
    assert rewrite_url(MESSAGES, "") == MESSAGES
    for url in (
        "https://messaging.twilio.com/v1/Services",
        "https://api.twilio.com.evil.example/2010-04-01/",
        "http://api.twilio.com/2010-04-01/",
    ):
        assert rewrite_url(url, "http://127.0.0.1:9999") == url


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("-4") == 0.0
    now = datetime(2026, 3, 2, 22, 15, 0, tzinfo=UTC)
    assert retry_after_seconds("Mon, 02 Mar 2026 22:15:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 02 Mar 2026 22:14:00 GMT", now) == 0.0
    for unreadable in (None, "", "soon"):
        assert retry_after_seconds(unreadable) is None


def test_clients_are_built_for_the_base_with_a_timeout() -> None:
    client = twilio_client("AC123", "token", api_base="http://127.0.0.1:9999")
    assert isinstance(client.http_client, RewritingHttpClient)
    assert client.http_client.api_base == "http://127.0.0.1:9999"
    assert client.http_client.timeout == 10.0
    assert (client.username, client.password) == ("AC123", "token")


async def test_the_asynchronous_client_has_a_default_timeout() -> None:
    client = twilio_client("AC123", "token", asynchronous=True, timeout=4)
    try:
        assert isinstance(client.http_client, AsyncRewritingHttpClient)
        assert (client.http_client.api_base, client.http_client.timeout) == ("", 4)
    finally:
        await client.http_client.close()  # type: ignore[attr-defined]
