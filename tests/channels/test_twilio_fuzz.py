"""Fuzzing the Twilio webhooks: random form fields, signed and not. Never a 500, never a crash."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.errors import BadRequest
from channels.gateway import create_app
from channels.safeguarding import Safeguarding
from channels.twilio import parse_form, parse_inbound, parse_status
from tests.channels.conftest import FAST_RETRY
from tests.support.db import fresh_settings
from tests.support.fake_rasa import FakeRasa
from tests.support.fake_twilio import FakeTwilio
from tests.support.ports import free_port

FIELDS = [
    "MessageSid",
    "SmsMessageSid",
    "AccountSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaContentType0",
    "Latitude",
    "Longitude",
    "OptOutType",
    "MessageStatus",
    "ErrorCode",
    "NumSegments",
]
VALUES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "+447700900123",
            "whatsapp:+447700900123",
            "SM" + "a" * 32,
            "0",
            "1",
            "-1",
            "99999999999999999999",
            "image/jpeg",
            "audio/ogg",
            "STOP",
            "START",
            "HELP",
            "",
            " ",
            "\x00",
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
        ]
    ),
    st.text(min_size=1500, max_size=1700),
)
FORMS = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), VALUES, max_size=12
)


@settings(max_examples=400, deadline=None)
@given(form=FORMS)
def test_the_parsers_raise_only_bad_request(form: dict[str, str]) -> None:
    parsed = parse_form(urlencode(form).encode())
    for parse in (parse_inbound, parse_status):
        with contextlib.suppress(BadRequest):
            parse(parsed)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2000))
def test_any_bytes_parse_as_a_form_or_bad_request(body: bytes) -> None:
    with contextlib.suppress(BadRequest):
        parse_form(body)


@pytest.fixture
def served(
    sqlite_url: str, fake_rasa: FakeRasa, safeguarding: Safeguarding
) -> Iterator[tuple[str, FakeTwilio]]:
    """A gateway with Twilio configured, served from its own thread (hypothesis is sync)."""
    with FakeTwilio() as twilio:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        app_settings = fresh_settings(
            sqlite_url,
            rasa_url=fake_rasa.url,
            public_url=url,
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_from_number="+447700900000",
            twilio_api_base=twilio.url,
        )
        app = create_app(
            app_settings, safeguarding=safeguarding, retry=FAST_RETRY, poll_interval=0.05
        )
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(300):
            if server.started:
                break
            threading.Event().wait(0.02)
        yield url, twilio
        server.should_exit = True
        thread.join(timeout=10)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(form=FORMS, signed=st.booleans(), path=st.sampled_from(["messages", "status"]))
def test_the_webhooks_never_answer_500(
    served: tuple[str, FakeTwilio], form: dict[str, str], signed: bool, path: str
) -> None:
    base, twilio = served
    url = f"{base}/twilio/{path}"
    headers = {"X-Twilio-Signature": twilio.signature(url, form)} if signed else {}
    response = httpx.post(url, data=form, headers=headers, timeout=30)
    assert response.status_code in (200, 400, 403, 413)
    if not signed:
        assert response.status_code == 403
