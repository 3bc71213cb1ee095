"""Twilio webhooks as pure functions: signatures, the URL behind a proxy, parsing, keywords."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from channels.channel import InboundRequest
from channels.errors import BadRequest, Unauthorized
from channels.keywords import Keyword, carrier_keyword
from channels.twilio import (
    TwilioConfig,
    authenticated_form,
    parse_form,
    parse_inbound,
    parse_status,
    webhook_url,
)

pytestmark = pytest.mark.unit

TOKEN = "12345"  # Twilio's documented example auth token
SID = "AC" + "0" * 32
CONFIG = TwilioConfig(account_sid=SID, auth_token=TOKEN, public_url="https://mycompany.com")

# Twilio's documented example: https://www.twilio.com/docs/usage/security
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def request(
    url: str, params: dict[str, str], signature: str | None, **headers: str
) -> InboundRequest:
    all_headers = {"content-type": "application/x-www-form-urlencoded", **headers}
    if signature is not None:
        all_headers["x-twilio-signature"] = signature
    return InboundRequest("POST", url, all_headers, urlencode(params).encode())


def test_twilio_validator_agrees_with_the_documented_example() -> None:
    validator = RequestValidator(TOKEN)
    assert validator.compute_signature(DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    # The algorithm by hand: HMAC-SHA1 over the URL and the sorted name+value pairs.
    data = DOC_URL + "".join(k + DOC_PARAMS[k] for k in sorted(DOC_PARAMS))
    by_hand = base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest())
    assert by_hand.decode() == DOC_SIGNATURE


def test_the_documented_request_is_accepted_behind_a_proxy() -> None:
    # The gateway sees its own host and a stripped prefix; the public URL says what Twilio saw.
    config = TwilioConfig(auth_token=TOKEN, public_url="https://mycompany.com")
    seen = request("http://127.0.0.1:8080/myapp.php?foo=1&bar=2", DOC_PARAMS, DOC_SIGNATURE)
    assert webhook_url(seen, config.public_url) == DOC_URL
    form = authenticated_form(seen, config)
    assert form.one("Digits") == "1234"


def test_a_public_url_with_a_path_prefix() -> None:
    seen = InboundRequest("POST", "http://10.0.0.5:8080/twilio/messages?x=1", {}, b"")
    assert webhook_url(seen, "https://example.org/youthlink/") == (
        "https://example.org/youthlink/twilio/messages?x=1"
    )
    assert webhook_url(seen, "") == "http://10.0.0.5:8080/twilio/messages?x=1"


@pytest.mark.parametrize(
    "change",
    [
        {"Digits": "1235"},  # a forged field
        {"Extra": "1"},  # an added field
    ],
)
def test_a_changed_request_is_refused(change: dict[str, str]) -> None:
    forged = {**DOC_PARAMS, **change}
    with pytest.raises(Unauthorized):
        authenticated_form(request(DOC_URL, forged, DOC_SIGNATURE), CONFIG)


def test_missing_wrong_and_other_account_signatures_are_refused() -> None:
    with pytest.raises(Unauthorized):
        authenticated_form(request(DOC_URL, DOC_PARAMS, None), CONFIG)
    with pytest.raises(Unauthorized):
        authenticated_form(request(DOC_URL, DOC_PARAMS, "AAAA" + DOC_SIGNATURE[4:]), CONFIG)
    wrong_token = RequestValidator("other").compute_signature(DOC_URL, DOC_PARAMS)
    with pytest.raises(Unauthorized):
        authenticated_form(request(DOC_URL, DOC_PARAMS, wrong_token), CONFIG)
    # A different path on the same host is a different URL.
    with pytest.raises(Unauthorized):
        authenticated_form(
            request("https://x/other.php?foo=1&bar=2", DOC_PARAMS, DOC_SIGNATURE), CONFIG
        )
    other_account = {**DOC_PARAMS, "AccountSid": "AC" + "1" * 32}
    signature = RequestValidator(TOKEN).compute_signature(DOC_URL, other_account)
    with pytest.raises(Unauthorized):
        authenticated_form(request(DOC_URL, other_account, signature), CONFIG)


def test_without_an_auth_token_everything_is_refused() -> None:
    with pytest.raises(Unauthorized):
        authenticated_form(
            request(DOC_URL, DOC_PARAMS, DOC_SIGNATURE), TwilioConfig(public_url=CONFIG.public_url)
        )


def test_hmac_sha256_signatures_named_in_the_settings_header() -> None:
    signature = RequestValidator(TOKEN).compute_signature(DOC_URL, DOC_PARAMS, "HMAC_SHA256")
    seen = request(
        DOC_URL,
        DOC_PARAMS,
        signature,
        **{"x-twilio-webhooks-signature-settings": "key=k,algorithm=HMAC_SHA256"},
    )
    assert authenticated_form(seen, CONFIG).one("To") == "+18005551212"


def test_repeated_fields_are_signed_and_kept() -> None:
    body = b"MediaUrl0=a&Tag=x&Tag=y"
    form = parse_form(body)
    assert form.getall("Tag") == ["x", "y"]
    signature = RequestValidator(TOKEN).compute_signature(DOC_URL, form)
    seen = InboundRequest("POST", DOC_URL, {"x-twilio-signature": signature}, body)
    assert authenticated_form(seen, CONFIG).getall("Tag") == ["x", "y"]


def test_odd_bytes_never_raise() -> None:
    form = parse_form(b"Body=%FF%FEhi%ZZ&From=%2B447700900123&\xff\xfe=1&&=&x")
    assert form.one("Body").endswith("hi%ZZ")
    assert "\ufffd" in form.one("Body")
    with pytest.raises(BadRequest):
        parse_form(b"&".join(b"f%d=1" % i for i in range(500)))


def inbound(**fields: str) -> dict[str, str]:
    return {
        "MessageSid": "SM" + "a" * 32,
        "From": "+447700900123",
        "To": "+447700900000",
        "Body": "hello",
        "NumMedia": "0",
        **fields,
    }


def parsed(**fields: str):  # type: ignore[no-untyped-def]
    return parse_inbound(parse_form(urlencode(inbound(**fields)).encode()))


def test_sms_and_whatsapp_addresses() -> None:
    (sms,) = parsed().messages
    assert (sms.channel, sms.address, sms.text, sms.media_kind) == (
        "sms",
        "+447700900123",
        "hello",
        None,
    )
    whatsapp = parsed(From="whatsapp:+447700900123", To="whatsapp:+14155238886")
    (message,) = whatsapp.messages
    assert (message.channel, message.address) == ("whatsapp", "+447700900123")
    assert whatsapp.to == "whatsapp:+14155238886"
    for bad in ("", "Sam", "messenger:1234", "+44 7700", "whatsapp:", "+" + "1" * 20):
        with pytest.raises(BadRequest):
            parsed(From=bad)
    with pytest.raises(BadRequest):
        parsed(MessageSid="")


def test_media_is_noted_never_kept() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    voice = parsed(Body="", NumMedia="1", MediaUrl0=url, MediaContentType0="audio/ogg")
    (note,) = voice.messages
    assert (note.text, note.media_kind, note.provider_message_id) == (
        "",
        "audio",
        "SM" + "a" * 32 + ":media",
    )
    captioned = parsed(
        Body="look at this", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg"
    )
    assert [(m.text, m.media_kind) for m in captioned.messages] == [
        ("", "image"),
        ("look at this", None),
    ]
    assert url not in repr(captioned)
    location = parsed(Body="", Latitude="51.5", Longitude="-0.1")
    assert location.messages[0].media_kind == "location"
    assert "51.5" not in repr(location)
    assert parsed(NumMedia="lots", MediaContentType0="").messages[0].media_kind is None


def test_empty_long_and_odd_bodies() -> None:
    assert parsed(Body="   ").messages[0].text == ""
    long = parsed(Body="x" * 20_000).messages[0].text
    assert len(long) == 10_000
    assert parsed(Body="a\x00b\x07c").messages[0].text == "abc"
    assert parsed(Body="hi 🙂 ł").messages[0].text == "hi 🙂 ł"


def test_opt_out_type_is_read() -> None:
    assert parsed(Body="stop", OptOutType="STOP").opt_out_type == "STOP"
    assert parsed().opt_out_type == ""


def test_status_callbacks() -> None:
    report = parse_status(parse_form(b"MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30003"))
    assert (report.message_sid, report.status, report.error_code) == ("SM1", "undelivered", "30003")
    assert parse_status(parse_form(b"SmsSid=SM2&SmsStatus=sent")).error_code is None
    for bad in (
        b"",
        b"MessageSid=SM1",
        b"MessageSid=..&MessageStatus=sent",
        b"MessageSid=SM1&MessageStatus=<x>",
    ):
        with pytest.raises(BadRequest):
            parse_status(parse_form(bad))


@pytest.mark.parametrize(
    ("text", "stopped", "provider", "expected"),
    [
        ("STOP", False, "", Keyword.OPT_OUT),
        (" stop! ", False, "", Keyword.OPT_OUT),
        ("Unsubscribe", False, "", Keyword.OPT_OUT),
        ("stopall", False, "", Keyword.OPT_OUT),
        ("stop all", False, "", Keyword.OPT_OUT),
        ("cancel", False, "", Keyword.OPT_OUT),
        ("END", False, "", Keyword.OPT_OUT),
        ("quit", False, "", Keyword.OPT_OUT),
        ("stop texting me", False, "", None),  # a sentence, not a keyword: the dialogue's
        ("please stop", False, "", None),
        ("START", True, "", Keyword.OPT_IN),
        ("unstop", True, "", Keyword.OPT_IN),
        ("yes", True, "", Keyword.OPT_IN),
        ("yes", False, "", None),  # an ordinary answer
        ("HELP", False, "", Keyword.HELP),
        ("help me", False, "", Keyword.HELP),
        ("info", False, "", Keyword.HELP),
        ("arret", False, "STOP", Keyword.OPT_OUT),  # Twilio knew it as an opt-out keyword
        ("hello", False, "", None),
    ],
)
def test_carrier_keywords(
    text: str, stopped: bool, provider: str, expected: Keyword | None
) -> None:
    assert carrier_keyword(text, stopped=stopped, provider_type=provider) is expected
