"""`youthlink chat`: scripted conversations through the gateway, the handoff API reporting back."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from channels.chat_client import main, run_interactive, run_script
from channels.conversations import lookup_address
from handoff.api import create_app as create_handoff_app
from tests.channels.conftest import RunningGateway
from tests.support.fake_rasa import FakeRasa
from tests.support.ports import free_port
from tests.support.referrals import make_referral

CRISIS_TEXT = "i'm going to take all my pills tonight"
QUESTIONS = [
    ("consent", "Is it ok if I ask you a few things?"),
    ("age", "How old are you?"),
    ("interests", "What do you enjoy doing?"),
    ("confirm", "Shall I send this to a link worker?"),
]


class ScriptedBot:
    """A tiny dialogue in place of Rasa: asks QUESTIONS in turn, then files a referral."""

    def __init__(self, handoff_url: str, service_token: str) -> None:
        self.handoff_url = handoff_url
        self.service_token = service_token
        self.answers: dict[str, dict[str, str]] = {}
        self.position: dict[str, int] = {}

    def __call__(self, sender: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        if "safeguarding" in metadata:
            self.position[sender] = -1
            return self._ask(sender, "Are you safe right now?", "safe_now")
        index = self.position.get(sender)
        if index is None:
            self.position[sender] = 0
            return self._ask(sender, *QUESTIONS[0][::-1])
        key = "safe_now" if index == -1 else QUESTIONS[index][0]
        self.answers.setdefault(sender, {})[key] = message
        if index == -1:
            return [{"recipient_id": sender, "text": "Thank you for telling me."}]
        if index + 1 < len(QUESTIONS):
            self.position[sender] = index + 1
            return self._ask(sender, *QUESTIONS[index + 1][::-1])
        record = make_referral(
            sender,
            source={"channel": "local", "conversation_id": sender, "completed": True},
            contact={"method": "local", "address": None, "safe_to_contact": True},
            interests=[
                {"category": "sport_fitness", "own_words": self.answers[sender]["interests"]}
            ],
        )
        response = httpx.post(
            f"{self.handoff_url}/api/referrals",
            json={"referral": record, "flags": []},
            headers={"Authorization": f"Bearer {self.service_token}"},
        )
        response.raise_for_status()
        return [{"recipient_id": sender, "text": "Sent! A link worker will be in touch."}]

    def _ask(self, sender: str, text: str, key: str) -> list[dict[str, Any]]:
        return [
            {
                "recipient_id": sender,
                "text": text,
                "buttons": [{"title": "Skip", "payload": "/skip"}],
            },
            {"recipient_id": sender, "custom": {"asking": key}},
        ]


async def serve_handoff(settings: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    app = create_handoff_app(settings, address_lookup=lookup_address)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    return server, task


async def test_scripted_conversations_report_transcript_referral_and_escalations(
    gateway: RunningGateway, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    handoff_port = free_port()
    settings = dataclasses.replace(
        gateway.settings,
        gateway_url=gateway.url,
        handoff_url=f"http://127.0.0.1:{handoff_port}",
    )
    bot = ScriptedBot(settings.handoff_url, settings.service_token)
    fake_rasa.responder = bot
    server, task = await serve_handoff(settings, handoff_port)
    script = tmp_path / "script.jsonl"
    cases = [
        {"id": "full", "answers": {"opening": "hi", "consent": "yes", "age": "14",
                                   "interests": "football and fifa", "confirm": "yes"}},
        {"id": "crisis", "answers": {"opening": CRISIS_TEXT, "safe_now": "yes"}},
    ]  # fmt: skip
    script.write_text("\n".join(json.dumps(c) for c in cases) + "\n", encoding="utf-8")
    out = io.StringIO()
    try:
        code = await asyncio.to_thread(run_script, settings, script, out)
    finally:
        server.should_exit = True
        await task
    assert code == 0
    full, crisis = (json.loads(line) for line in out.getvalue().splitlines())

    assert full["id"] == "full"
    assert [turn["user"] for turn in full["transcript"]] == [
        "hi",
        "yes",
        "14",
        "football and fifa",
        "yes",
    ]
    assert full["transcript"][-1]["bot"] == ["Sent! A link worker will be in touch."]
    referral = full["referral"]
    assert referral["source"]["conversation_id"] == full["conversation_id"]
    assert referral["interests"] == [
        {"category": "sport_fitness", "own_words": "football and fifa"}
    ]
    # The handoff API filled the contact address from the gateway's conversation.
    assert referral["contact"]["address"].startswith("script-")
    assert full["escalations"] == []

    assert crisis["transcript"][0]["user"] == CRISIS_TEXT
    verdict = gateway.safeguarding.screen(CRISIS_TEXT, ())
    # The crisis reply comes first, then the dialogue follows up instead of repeating it.
    assert crisis["transcript"][0]["bot"] == [
        gateway.safeguarding.crisis_reply(verdict, "unknown"),
        "Are you safe right now?",
    ]
    assert [turn["user"] for turn in crisis["transcript"]] == [CRISIS_TEXT, "yes"]
    assert len(crisis["escalations"]) == 1
    assert crisis["escalations"][0]["severity"] >= 4
    assert crisis["referral"]["safeguarding"]["flagged"] is True


async def test_missing_answers_are_skipped(
    gateway: RunningGateway, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    handoff_port = free_port()
    settings = dataclasses.replace(
        gateway.settings, gateway_url=gateway.url, handoff_url=f"http://127.0.0.1:{handoff_port}"
    )
    fake_rasa.responder = ScriptedBot(settings.handoff_url, settings.service_token)
    server, task = await serve_handoff(settings, handoff_port)
    script = tmp_path / "script.jsonl"
    script.write_text(json.dumps({"id": "x", "answers": {"opening": "hey"}}) + "\n")
    out = io.StringIO()
    try:
        await asyncio.to_thread(run_script, settings, script, out, max_turns=3)
    finally:
        server.should_exit = True
        await task
    result = json.loads(out.getvalue())
    assert [turn["user"] for turn in result["transcript"]] == ["hey", "skip", "skip"]
    assert result["referral"] is None


async def test_interactive_chat_numbers_the_options(
    gateway: RunningGateway, fake_rasa: FakeRasa
) -> None:
    fake_rasa.responder = lambda sender, message, metadata: [
        {
            "recipient_id": sender,
            "text": f"you said {message}. Ready?",
            "buttons": [
                {"title": "Yes", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
        }
    ]
    settings = dataclasses.replace(gateway.settings, gateway_url=gateway.url)
    out = io.StringIO()
    await asyncio.to_thread(run_interactive, settings, io.StringIO("hello\n2\n"), out)
    shown = out.getvalue()
    assert "bot> you said hello. Ready?" in shown
    assert "1. Yes" in shown and "2. No" in shown
    assert fake_rasa.messages() == ["hello", "/deny"]


def test_unreachable_gateway_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("YOUTHLINK_GATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("YOUTHLINK_LOCAL_TOKEN", "t")
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps({"id": "x", "answers": {}}) + "\n")
    assert main(["--script", str(script)]) == 1
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_a_missing_local_token_says_how_to_load_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("YOUTHLINK_LOCAL_TOKEN", raising=False)
    script = tmp_path / "s.jsonl"
    script.write_text(json.dumps({"id": "x", "answers": {}}) + "\n")
    assert main(["--script", str(script)]) == 1
    err = capsys.readouterr().err
    assert "YOUTHLINK_LOCAL_TOKEN is not set" in err and "make chat" in err
