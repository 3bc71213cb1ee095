"""The Python API other parts of YouthLink use."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

import safeguarding_rules
from safeguarding_rules import Verdict, load_ruleset, screen, screen_conversation

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_screen_returns_a_frozen_verdict() -> None:
    verdict = screen("kms")
    assert isinstance(verdict, Verdict)
    assert verdict.severity == 4 and verdict.categories == ("suicide",)
    assert "suicide.intent.kill_myself" in verdict.rule_ids
    assert all(r.startswith(("suicide.", "model.suicide")) for r in verdict.rule_ids)
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.severity = 0  # type: ignore[misc]


def test_escalate_threshold() -> None:
    verdict = screen("i hate my life")
    assert verdict.severity == 3
    assert not verdict.escalate() and verdict.escalate(3) and verdict.escalate(threshold=2)


def test_categories_most_severe_first() -> None:
    verdict = screen("my dad hits me and i keep a knife in my bag, im going to stab him")
    assert verdict.categories[0] == "harm_to_others" and verdict.severity == 5
    assert "abuse" in verdict.categories
    severities = [
        4 if r.startswith("model.") else load_ruleset().rule(r).severity  # type: ignore[union-attr]
        for r in verdict.rule_ids
    ]
    assert severities == sorted(severities, reverse=True)


def test_empty_and_benign_text() -> None:
    assert screen("").severity == 0
    assert screen("i love baked beans") == Verdict(0, (), (), load_ruleset().version)


def test_conversation_api_matches_module_function() -> None:
    turns = ["hi", "i make myself sick after i eat"]
    assert screen_conversation(turns) == load_ruleset().screen_conversation(turns)


def test_ruleset_is_loaded_once_and_cached() -> None:
    assert load_ruleset() is load_ruleset()


def test_version_is_a_hash_of_the_rule_files(rules_copy: Path) -> None:
    packaged = load_ruleset().version
    assert len(packaged) == 12 and int(packaged, 16) >= 0
    assert load_ruleset(rules_copy).version == packaged
    path = rules_copy / "suicide.yml"
    path.write_text(path.read_text() + "\n# edited\n")
    assert load_ruleset(rules_copy, reload=True).version != packaged


def test_no_file_access_while_screening(monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset = load_ruleset()
    safeguarding_rules.load_replies()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("file access while screening")

    monkeypatch.setattr("builtins.open", refuse)
    monkeypatch.setattr(Path, "read_text", refuse)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert ruleset.screen("i want to kill myself").escalate()
    assert screen("i want to kill myself").escalate()
    assert safeguarding_rules.crisis_reply(screen("kms"), "13_15")


def test_import_reads_nothing(tmp_path: Path) -> None:
    code = (
        "import builtins, sys\n"
        "real = builtins.open\n"
        "def guard(*a, **k):\n"
        "    raise SystemExit('opened ' + str(a[0]))\n"
        "builtins.open = guard\n"
        "import safeguarding_rules\n"
        "builtins.open = real\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [os.sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr


def _rasa_python() -> Path | None:
    for candidate in (REPO_ROOT / ".venv-rasa" / "bin" / "python", Path("/tmp/vr/bin/python")):
        if candidate.exists():
            return candidate
    return None


def test_imports_and_screens_on_python_310() -> None:
    python = _rasa_python()
    if python is None:
        pytest.skip("no Python 3.10 (Rasa) environment found")
    code = (
        "import sys, safeguarding_rules as s\n"
        "assert sys.version_info[:2] == (3, 10), sys.version\n"
        "v = s.screen('kms')\n"
        "print(v.severity, v.categories[0], s.screen_conversation(['i want to', 'die']).severity)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4", "suicide", "4"]
