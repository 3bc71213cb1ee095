"""Running the safeguarding rules' own check for leads: in process through
`safeguarding_rules.check.run_check` when the package has it, else `python -m
safeguarding_rules check` in a child process. Either way, the lead reads the check's own report."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)
MAX_OUTPUT = 200_000


@dataclass(frozen=True)
class RuleCheckReport:
    """What the check said: passed or not, its exit status and its report text."""

    passed: bool
    exit_code: int
    output: str
    ran_at: datetime
    seconds: float


RuleCheck = Callable[[], RuleCheckReport]


def subprocess_rule_check(
    command: Sequence[str] | None = None, *, timeout: float = 120.0
) -> RuleCheck:
    """A rule check that runs the check command in a child process (the command's own
    report is what a lead would see in a terminal)."""
    argv = list(command or (sys.executable, "-m", "safeguarding_rules", "check"))

    def run() -> RuleCheckReport:
        started, ran_at = time.perf_counter(), datetime.now(UTC)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return RuleCheckReport(
                False,
                -1,
                f"the check did not finish within {timeout:.0f} s",
                ran_at,
                time.perf_counter() - started,
            )
        except OSError as exc:
            return RuleCheckReport(
                False,
                -1,
                f"the check could not start: {exc.strerror}",
                ran_at,
                time.perf_counter() - started,
            )
        output = (done.stdout + ("\n" + done.stderr if done.stderr.strip() else "")).strip()
        if len(output) > MAX_OUTPUT:
            output = output[:MAX_OUTPUT] + "\n… (report cut short)"
        return RuleCheckReport(
            done.returncode == 0, done.returncode, output, ran_at, time.perf_counter() - started
        )

    return run


def in_process_rule_check() -> RuleCheck | None:
    """The check run in this process with the package's default files, or None when the
    installed `safeguarding_rules` has no `check.run_check`."""
    try:
        check = importlib.import_module("safeguarding_rules.check")
        loader = importlib.import_module("safeguarding_rules.loader")
        contacts = importlib.import_module("safeguarding_rules.contacts")
        replies = importlib.import_module("safeguarding_rules.replies")
        run_check = check.run_check
        paths = (
            loader.default_rules_dir,
            contacts.default_contacts_path,
            replies.default_replies_path,
        )
    except (ImportError, AttributeError):
        return None

    def run() -> RuleCheckReport:
        started, ran_at = time.perf_counter(), datetime.now(UTC)
        try:
            report = run_check(*(path() for path in paths), dt.date.today())
            passed, output = bool(report.ok), str(report.render())
        except Exception as exc:  # a broken rule file must show as a failed check, not a 500
            log.warning("rule check raised %s", type(exc).__name__)
            passed, output = False, f"the check stopped with {type(exc).__name__}"
        return RuleCheckReport(
            passed, 0 if passed else 1, output[:MAX_OUTPUT], ran_at, time.perf_counter() - started
        )

    return run


def default_rule_check() -> RuleCheck:
    """In process when possible, else the check command in a child process."""
    return in_process_rule_check() or subprocess_rule_check()
