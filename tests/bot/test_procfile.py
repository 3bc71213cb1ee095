"""The Procfile's Rasa command, read by Rasa's own command-line parser."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from rasa.__main__ import create_argument_parser

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def rasa_command(token: str) -> list[str]:
    line = next(
        line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("rasa:")
    )
    command = line.split(":", 1)[1].replace("$YOUTHLINK_RASA_TOKEN", token)
    command = command.replace('"${YOUTHLINK_RASA_ENDPOINTS:-bot/endpoints.yml}"', "e.yml")
    words = shlex.split(command)
    assert words[0].endswith("rasa")
    return words[1:]


@pytest.mark.parametrize("token", ["plainToken123", "-starts-with-a-dash", "--two"])
def test_any_random_token_reaches_rasa(token: str) -> None:
    """Tokens are random URL-safe text and one in 64 starts with "-": passed as a separate
    word, argparse took it for an option and Rasa would not start."""
    args = create_argument_parser().parse_args(rasa_command(token))
    assert args.auth_token == token
    assert args.enable_api and args.interface == "127.0.0.1"
