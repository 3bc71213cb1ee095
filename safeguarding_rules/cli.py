"""Command line: `python -m safeguarding_rules screen|check|schema|train-model`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from safeguarding_rules.categories import DEFAULT_ESCALATE_AT
from safeguarding_rules.check import run_check
from safeguarding_rules.contacts import default_contacts_path
from safeguarding_rules.errors import RuleSetError
from safeguarding_rules.loader import default_rules_dir, load_ruleset_dir
from safeguarding_rules.model import MODEL_FILE
from safeguarding_rules.replies import default_replies_path
from safeguarding_rules.ruleset import RuleSet
from safeguarding_rules.schema import RULE_FILE_SCHEMA

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_RULES = 2


class InputError(ValueError):
    """A line of `screen` input is not usable; the message says why."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "screen":
        return screen_command(args.rules, args.threshold, sys.stdin, sys.stdout, sys.stderr)
    if args.command == "check":
        report = run_check(args.rules, args.contacts, args.replies, args.today)
        print(report.render())
        return EXIT_OK if report.ok else EXIT_FAILED
    if args.command == "train-model":
        return train_command(args.rules, args.data or None, args.out, sys.stdout, sys.stderr)
    print(json.dumps(RULE_FILE_SCHEMA, indent=2))
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m safeguarding_rules", description="YouthLink safeguarding rules."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    screen = sub.add_parser(
        "screen",
        help='screen JSON lines {"id","text"} or {"id","turns":[...]} from stdin',
    )
    screen.add_argument("--rules", type=Path, default=default_rules_dir(), help="rule directory")
    screen.add_argument(
        "--threshold",
        type=int,
        default=DEFAULT_ESCALATE_AT,
        help=f"severity that escalates (default {DEFAULT_ESCALATE_AT})",
    )
    check = sub.add_parser("check", help="validate the rule files and run every example")
    check.add_argument("--rules", type=Path, default=default_rules_dir(), help="rule directory")
    check.add_argument("--contacts", type=Path, default=default_contacts_path())
    check.add_argument("--replies", type=Path, default=default_replies_path())
    check.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=dt.date.today(),
        help="date to judge contacts' age by (YYYY-MM-DD; default today)",
    )
    sub.add_parser("schema", help="print the JSON Schema of a rule file")
    train = sub.add_parser(
        "train-model",
        help=f"train the model behind the rules and write <rules>/{MODEL_FILE}",
    )
    train.add_argument("--rules", type=Path, default=default_rules_dir(), help="rule directory")
    train.add_argument(
        "--data",
        type=Path,
        action="append",
        help="labelled data (hard-case YAML, eval JSON Lines, NLU YAML); repeatable; "
        "default: the project's own",
    )
    train.add_argument("--out", type=Path, help=f"default: <rules>/{MODEL_FILE}")
    return parser


def train_command(
    rules: Path, data: Sequence[Path] | None, out: Path | None, stdout: IO[str], stderr: IO[str]
) -> int:
    """Train the model on labelled data with the rule directory's normalisation."""
    from safeguarding_rules import training

    try:
        ruleset = load_ruleset_dir(rules, with_model=False)
    except RuleSetError as exc:
        print(exc, file=stderr)
        return EXIT_BAD_RULES
    try:
        examples = training.read_examples(data or training.default_sources())
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read the labelled data: {exc!r}", file=stderr)
        return EXIT_FAILED
    model = training.train_for(ruleset, examples)
    target = out or rules / MODEL_FILE
    training.write_model(model, examples, target)
    counts = training.describe(examples)["examples"]
    print(f"trained on {len(examples)} examples {counts}; wrote {target}", file=stdout)
    return EXIT_OK


def screen_command(
    rules: Path, threshold: int, stdin: IO[str], stdout: IO[str], stderr: IO[str]
) -> int:
    """Screen each input line; bad lines get an error object and processing continues."""
    try:
        ruleset = load_ruleset_dir(rules)
    except RuleSetError as exc:
        print(exc, file=stderr)
        return EXIT_BAD_RULES
    failed = False
    for line in stdin:
        if not line.strip():
            continue
        try:
            out = _screen_line(ruleset, line, threshold)
        except InputError as exc:
            failed = True
            out = {"id": exc.args[1] if len(exc.args) > 1 else None, "error": exc.args[0]}
        stdout.write(json.dumps(out) + "\n")
        stdout.flush()
    return EXIT_FAILED if failed else EXIT_OK


def _screen_line(ruleset: RuleSet, line: str, threshold: int) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} at column {exc.colno}", None) from None
    if not isinstance(item, dict):
        raise InputError("each line must be a JSON object", None)
    item_id = item.get("id")
    if "id" not in item or not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        raise InputError('"id" is required (a string or an integer)', _scalar_or_none(item_id))
    has_text, has_turns = "text" in item, "turns" in item
    if has_text == has_turns:
        raise InputError('give exactly one of "text" or "turns"', item_id)
    if has_text:
        if not isinstance(item["text"], str):
            raise InputError('"text" must be a string', item_id)
        verdict = ruleset.screen(item["text"])
    else:
        turns = item["turns"]
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise InputError('"turns" must be a list of strings', item_id)
        verdict = ruleset.screen_conversation(turns)
    return {
        "id": item_id,
        "escalate": verdict.escalate(threshold),
        "severity": verdict.severity,
        "categories": list(verdict.categories),
        "rule_ids": list(verdict.rule_ids),
    }


def _scalar_or_none(value: object) -> str | int | None:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    return None
