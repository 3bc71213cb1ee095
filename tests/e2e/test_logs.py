"""A whole conversation with a disclosure, every process at DEBUG: no personal data in any log."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.stack import APP_BIN, REPO, Stack

pytestmark = pytest.mark.e2e

NAME = "Zephyrine"
OWN_WORDS = "my quokka-shaped worries about exams"
DISCLOSURE = "i want to kill myself tonight"
INTERESTS = "skateboarding at the xylophone park"
AREA = "LS7"


def test_no_personal_data_in_any_log(stack: Stack, tmp_path: Path) -> None:
    script = tmp_path / "script.jsonl"
    answers = {
        "opening": "hi",
        "consent": "yes",
        "age": "15",
        "preferred_name": NAME,
        "concerns": f"{OWN_WORDS} and {DISCLOSURE}",
        "safe_now": "yes",
        "continue": "yes",
        "interests": INTERESTS,
        "what_matters": "skip",
        "area": AREA,
        "contact_ok": "yes",
        "best_times": "after 4",
        "confirm": "yes",
    }
    script.write_text(json.dumps({"id": "logs", "answers": answers}) + "\n", encoding="utf-8")
    result = subprocess.run(
        [str(APP_BIN / "youthlink"), "chat", "--script", str(script)],
        cwd=REPO, env=stack.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["referral"] is not None, "the conversation must have produced a referral"
    assert outcome["escalations"], "the disclosure must have been escalated"
    time.sleep(1.0)  # let the processes flush their logs

    logs = {path.name: path.read_text(encoding="utf-8", errors="replace")
            for path in stack.workdir.glob("*.log")}  # fmt: skip
    assert {"rasa.log", "actions.log", "gateway.log", "handoff.log"} <= set(logs)
    assert any("DEBUG" in text for text in logs.values()), "the processes must log at DEBUG"
    sentinels = [NAME, OWN_WORDS, "kill myself", INTERESTS, "xylophone", "quokka"]
    for name, text in logs.items():
        for sentinel in sentinels:
            assert sentinel.lower() not in text.lower(), f"{sentinel!r} leaked into {name}"
