from __future__ import annotations

from pathlib import Path

import pytest

from youthlink import devenv
from youthlink.config import Settings
from youthlink.crypto import Cipher
from youthlink.errors import ConfigurationError

pytestmark = pytest.mark.unit


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.escalate_at == 4
    assert settings.encryption_keys == ()


def test_production_refuses_to_start_without_keys() -> None:
    with pytest.raises(ConfigurationError, match="YOUTHLINK_ENCRYPTION_KEYS"):
        Settings.from_env({"YOUTHLINK_ENV": "production"})


def test_bad_threshold_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="ESCALATE_AT"):
        Settings.from_env({"YOUTHLINK_ESCALATE_AT": "four"})


def test_dev_env_file_has_fresh_working_keys(tmp_path: Path) -> None:
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    assert devenv.write(first) and devenv.write(second)
    assert not devenv.write(first), "an existing env file is never overwritten"

    def parse(path: Path) -> dict[str, str]:
        lines = path.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))

    a, b = parse(first), parse(second)
    assert a["YOUTHLINK_ENCRYPTION_KEYS"] != b["YOUTHLINK_ENCRYPTION_KEYS"]
    assert a["YOUTHLINK_SERVICE_TOKEN"] != b["YOUTHLINK_SERVICE_TOKEN"]
    settings = Settings.from_env({**a, "YOUTHLINK_ENV": "production"})
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    assert cipher.decrypt(cipher.encrypt("x")) == "x"
    assert first.stat().st_mode & 0o077 == 0, "the env file is readable by its owner only"


def test_connections_to_rasa_are_kept_for_one_rasa_process_unless_set() -> None:
    assert Settings.from_env({}).rasa_keepalive
    assert Settings.from_env({"YOUTHLINK_RASA_WORKERS": "1"}).rasa_keepalive
    assert not Settings.from_env({"YOUTHLINK_RASA_WORKERS": "2"}).rasa_keepalive
    both = {"YOUTHLINK_RASA_WORKERS": "2", "YOUTHLINK_RASA_KEEPALIVE": "1"}
    assert Settings.from_env(both).rasa_keepalive
    assert not Settings.from_env({"YOUTHLINK_RASA_KEEPALIVE": "0"}).rasa_keepalive
    with pytest.raises(ConfigurationError, match="YOUTHLINK_RASA_KEEPALIVE"):
        Settings.from_env({"YOUTHLINK_RASA_KEEPALIVE": "yes"})
