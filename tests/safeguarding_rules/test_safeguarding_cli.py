"""The command line contract, run as `python -m safeguarding_rules` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safeguarding_rules", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )


def lines(stdin_items: list[object]) -> str:
    return "".join(
        (item if isinstance(item, str) else json.dumps(item)) + "\n" for item in stdin_items
    )


def test_screen_text_and_turns() -> None:
    result = run(
        "screen",
        stdin=lines(
            [
                {"id": "a", "text": "i want to kill myself"},
                {"id": 2, "text": "i love horses"},
                {"id": "c", "turns": ["i want to", "kill myself", "jk"]},
            ]
        ),
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 2, "c"]
    for o in out:
        assert set(o) == {"id", "escalate", "severity", "categories", "rule_ids"}
    assert out[0]["escalate"] is True and out[0]["severity"] >= 4
    assert out[0]["categories"][0] == "suicide"
    assert "suicide.intent.kill_myself" in out[0]["rule_ids"]
    assert out[1] == {"id": 2, "escalate": False, "severity": 0, "categories": [], "rule_ids": []}
    assert out[2]["escalate"] is True  # standing verdict after the last turn


def test_bad_lines_get_an_error_and_processing_continues() -> None:
    result = run(
        "screen",
        stdin=lines(
            [
                "this is not json",
                {"text": "no id"},
                {"id": "x", "text": 5},
                {"id": "y", "turns": "not a list"},
                {"id": "z", "text": "a", "turns": ["b"]},
                ["a", "list"],
                {"id": "ok", "text": "kms"},
            ]
        ),
    )
    assert result.returncode != 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 7
    assert all("error" in o for o in out[:6])
    assert out[0]["id"] is None and "JSON" in out[0]["error"]
    assert [o["id"] for o in out[2:5]] == ["x", "y", "z"]
    assert out[6]["id"] == "ok" and out[6]["escalate"] is True


def test_threshold_option() -> None:
    item = lines([{"id": 1, "text": "i hate my life"}])
    default = json.loads(run("screen", stdin=item).stdout)
    low = json.loads(run("screen", "--threshold", "3", stdin=item).stdout)
    assert default["severity"] == 3 and default["escalate"] is False
    assert low["escalate"] is True


def test_screen_with_another_rule_directory(rules_copy: Path) -> None:
    (rules_copy / "harm_to_others.yml").write_text(
        (rules_copy / "harm_to_others.yml").read_text().replace("severity: 5", "severity: 3")
    )
    item = lines([{"id": 1, "text": "im gonna stab him"}])
    assert json.loads(run("screen", stdin=item).stdout)["severity"] == 5
    # The copy's model reads a threat too, but defers to a rule that judged its category.
    assert json.loads(run("screen", "--rules", str(rules_copy), stdin=item).stdout)["severity"] == 3


def test_screen_refuses_broken_rules(rules_copy: Path) -> None:
    (rules_copy / "suicide.yml").write_text("category: suicide\nrules: [\n")
    result = run("screen", "--rules", str(rules_copy), stdin=lines([{"id": 1, "text": "hi"}]))
    assert result.returncode == 2
    assert "suicide.yml:" in result.stderr


def test_check_passes_on_the_packaged_rules() -> None:
    result = run("check", "--today", "2026-11-28")
    assert result.returncode == 0, result.stdout
    assert "OK" in result.stdout
    assert "0 failed" in result.stdout


def test_check_reports_a_failing_example_with_file_and_line(rules_copy: Path) -> None:
    path = rules_copy / "eating_disorder.yml"
    text = path.read_text()
    path.write_text(text.replace('- "i make myself throw up"', '- "i love baked potatoes"', 1))
    result = run("check", "--rules", str(rules_copy), "--today", "2026-11-28")
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if line.startswith("FAIL"))
    assert "eating_disorder.yml:" in line and "i love baked potatoes" in line
    assert "should match" in line


def test_check_warns_about_contacts_older_than_six_months() -> None:
    fresh = run("check", "--today", "2027-05-28")
    assert fresh.returncode == 0 and "WARN" not in fresh.stdout
    stale = run("check", "--today", "2027-05-29")
    assert stale.returncode == 0  # a warning, not a failure
    warnings = [line for line in stale.stdout.splitlines() if line.startswith("WARN")]
    assert any("childline" in w and "2026-11-28" in w for w in warnings)


def test_schema_command_prints_json_schema() -> None:
    result = run("schema")
    schema = json.loads(result.stdout)
    assert schema["required"] == ["category", "rules"]
    assert "rule" in schema["$defs"]
