"""The handoff HTTP API, in process (ASGI) on both databases and as a real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from handoff.api import create_app
from tests.handoff.conftest import AddressBook
from tests.handoff.store import CONVERSATION
from tests.support.db import fresh_settings, settings_env, sqlite_url_in
from tests.support.ports import free_port
from tests.support.referrals import OWN_WORDS, TEST_PHONE, make_referral
from youthlink.config import Settings
from youthlink.crypto import Cipher

REPO = Path(__file__).resolve().parents[2]


def escalation_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conversation_id": CONVERSATION,
        "channel": "sms",
        "severity": 5,
        "categories": ["self_harm"],
        "rule_ids": ["self_harm.cutting"],
        "ruleset_version": "test-1",
        "excerpt": "i cut myself last week",
        "age_band": "13_15",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def client(
    settings: Settings, engine: Engine, address_book: AddressBook
) -> AsyncIterator[httpx.AsyncClient]:
    def lookup(session: Session, cipher: Cipher, conversation_id: str) -> tuple[str, str] | None:
        assert isinstance(session, Session) and isinstance(cipher, Cipher)
        return address_book.get(conversation_id)

    app = create_app(settings, engine=engine, address_lookup=lookup)
    headers = {"Authorization": f"Bearer {settings.service_token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://handoff.test", headers=headers
    ) as client:
        yield client


async def test_health_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Bearer", ""]
)
async def test_the_api_refuses_without_the_service_token(
    client: httpx.AsyncClient, settings: Settings, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    client.headers.pop("Authorization")
    for method, path, body in (
        ("POST", "/api/referrals", {"referral": make_referral()}),
        ("GET", f"/api/referrals?conversation_id={CONVERSATION}", None),
        ("DELETE", f"/api/conversations/{CONVERSATION}/draft", None),
        ("POST", "/api/escalations", escalation_body()),
        ("GET", f"/api/escalations?conversation_id={CONVERSATION}", None),
    ):
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"] == "Bearer"
    # Nothing was stored by the refused requests.
    ok = {"Authorization": f"Bearer {settings.service_token}"}
    listed = await client.get(f"/api/referrals?conversation_id={CONVERSATION}", headers=ok)
    assert listed.json() == []


async def test_an_unset_service_token_refuses_everyone(engine: Engine, settings: Settings) -> None:
    app = create_app(fresh_settings(settings.database_url, service_token=""), engine=engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://handoff.test"
    ) as client:
        for authorization in ("Bearer ", "Bearer", ""):
            response = await client.get(
                "/api/referrals?conversation_id=c", headers={"Authorization": authorization}
            )
            assert response.status_code == 401


async def test_submit_and_read_round_trip(client: httpx.AsyncClient) -> None:
    record = make_referral()
    response = await client.post(
        "/api/referrals", json={"referral": record, "flags": ["asked_for_person"]}
    )
    assert response.status_code == 201
    referral_id = response.json()["referral_id"]
    assert referral_id == record["referral_id"]

    stored = (await client.get(f"/api/referrals/{referral_id}")).json()
    assert stored["concerns"] == record["concerns"]
    assert stored["contact"]["address"] == TEST_PHONE  # from the gateway's conversation
    listed = await client.get("/api/referrals", params={"conversation_id": CONVERSATION})
    assert [r["referral_id"] for r in listed.json()] == [referral_id]
    other = await client.get("/api/referrals", params={"conversation_id": "c_nobody"})
    assert other.json() == []


async def test_an_invalid_record_gets_422_naming_the_path(client: httpx.AsyncClient) -> None:
    record = make_referral()
    record["young_person"]["age_band"] = "teen"
    record["young_person"]["preferred_name"] = "Zebedee" * 20
    response = await client.post("/api/referrals", json={"referral": record})
    assert response.status_code == 422
    body = response.json()
    assert "referral.young_person.age_band" in body["detail"]
    assert any(p.startswith("referral.young_person.preferred_name") for p in body["problems"])
    assert "Zebedee" not in response.text


async def test_a_malformed_body_gets_422_without_echoing_it(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/referrals", json={"referal": {"what_matters": OWN_WORDS}, "flags": ["Not A Slug"]}
    )
    assert response.status_code == 422
    assert OWN_WORDS not in response.text
    assert "Not A Slug" not in response.text
    locations = [tuple(p["loc"]) for p in response.json()["detail"]]
    assert ("body", "referral") in locations


async def test_unknown_referral_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/referrals/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No referral with this id."}


async def test_an_early_escalation_referral_merges_with_the_full_one(
    client: httpx.AsyncClient,
) -> None:
    escalated = await client.post("/api/escalations", json=escalation_body())
    assert escalated.status_code == 201
    escalation = escalated.json()
    assert "excerpt" not in escalation
    early_id = escalation["referral_id"]

    submitted = await client.post("/api/referrals", json={"referral": make_referral()})
    assert submitted.status_code == 201
    assert submitted.json()["referral_id"] == early_id

    (record,) = (
        await client.get("/api/referrals", params={"conversation_id": CONVERSATION})
    ).json()
    assert record["referral_id"] == early_id
    assert record["priority"] == "urgent"
    assert record["source"]["completed"] is True
    assert record["safeguarding"]["flagged"] is True
    assert record["safeguarding"]["escalation_ids"] == [escalation["escalation_id"]]
    assert record["concerns"][0]["own_words"] == OWN_WORDS

    listed = (await client.get("/api/escalations", params={"conversation_id": CONVERSATION})).json()
    assert [e["escalation_id"] for e in listed] == [escalation["escalation_id"]]
    assert listed[0]["status"] == "open"
    assert "excerpt" not in listed[0]


async def test_invalid_escalations_get_422(client: httpx.AsyncClient) -> None:
    for bad in ({"severity": 9}, {"channel": "pigeon"}, {"categories": ["Self Harm"]}):
        response = await client.post("/api/escalations", json=escalation_body(**bad))
        assert response.status_code == 422, bad
        assert "i cut myself" not in response.text


async def test_delete_drops_a_draft_and_withdraws_a_submitted_referral(
    client: httpx.AsyncClient,
) -> None:
    draft_id = (await client.post("/api/escalations", json=escalation_body())).json()["referral_id"]
    deleted = await client.delete(f"/api/conversations/{CONVERSATION}/draft")
    assert deleted.json()["deleted"] == 1
    assert (await client.get(f"/api/referrals/{draft_id}")).status_code == 404
    # The escalation itself is kept.
    listed = await client.get("/api/escalations", params={"conversation_id": CONVERSATION})
    assert len(listed.json()) == 1

    record = make_referral()
    await client.post("/api/referrals", json={"referral": record})
    deleted = await client.delete(f"/api/conversations/{CONVERSATION}/draft")
    assert deleted.json()["deleted"] == 1
    stored = (await client.get(f"/api/referrals/{record['referral_id']}")).json()
    assert stored["status"] == "withdrawn"
    assert OWN_WORDS not in str(stored)
    again = await client.post("/api/referrals", json={"referral": record})
    assert again.status_code == 409


# A real server process: migrations at start, uvicorn, and logs that hold nothing personal.


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Settings, Path]]:
    settings = fresh_settings(sqlite_url_in(tmp_path))
    port = free_port()
    log_path = tmp_path / "handoff.log"
    env = {**os.environ, **settings_env(settings), "PYTHONPATH": str(REPO)}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "handoff", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "handoff did not start"
            time.sleep(0.2)
        yield base, settings, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_server_migrates_serves_and_logs_nothing_personal(
    server: tuple[str, Settings, Path],
) -> None:
    base, settings, log_path = server
    headers = {"Authorization": f"Bearer {settings.service_token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        assert client.get("/api/referrals", params={"conversation_id": "c"}).json() == []
        escalated = client.post(
            "/api/escalations", json=escalation_body(excerpt="my uncle hurts me")
        )
        assert escalated.status_code == 201
        record = make_referral()
        record["contact"]["address"] = TEST_PHONE
        response = client.post("/api/referrals", json={"referral": record})
        assert response.status_code == 201
        bad = make_referral()
        bad["what_matters"] = 7
        bad["young_person"]["area"] = "Zebedee" * 20
        assert client.post("/api/referrals", json={"referral": bad}).status_code == 422
        assert client.get(f"/api/referrals/{response.json()['referral_id']}").status_code == 200
        assert (
            client.get("/api/referrals", headers={"Authorization": "Bearer no"}).status_code == 401
        )
    time.sleep(0.3)
    logs = log_path.read_text()
    assert "POST /api/referrals 201" in logs
    assert "GET /api/referrals/{referral_id} 200" in logs
    for secret in (
        TEST_PHONE,
        OWN_WORDS,
        "my uncle hurts me",
        "Zebedee",
        "conversation_id=",
        "Jay",
    ):
        assert secret not in logs, secret
