"""Rasa's endpoints for several Rasa processes: the repo's endpoints plus a Redis lock store."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from youthlink.rasa_endpoints import EndpointsError, endpoints, lock_store, main


def test_a_redis_url_becomes_rasas_lock_store_section() -> None:
    assert lock_store("redis://127.0.0.1:6379/3") == {
        "type": "redis", "url": "127.0.0.1", "port": 6379, "db": 3,
        "key_prefix": "youthlink", "use_ssl": False,
    }  # fmt: skip
    section = lock_store("rediss://:s%40cret@redis.internal")
    assert (section["url"], section["port"], section["db"]) == ("redis.internal", 6379, 0)
    assert section["use_ssl"] is True
    assert section["password"] == "s@cret"


@pytest.mark.parametrize("url", ["", "http://x:6379/0", "redis://", "redis://host/zero"])
def test_a_bad_redis_url_is_refused_clearly(url: str) -> None:
    with pytest.raises(EndpointsError, match="YOUTHLINK_REDIS_URL"):
        lock_store(url)


def test_one_process_needs_no_lock_store_and_several_need_redis() -> None:
    base = {"action_endpoint": {"url": "http://127.0.0.1:5055/webhook"}}
    assert endpoints(1, "", base) == base
    assert endpoints(2, "redis://127.0.0.1:6379/0", base)["lock_store"]["type"] == "redis"
    assert (
        endpoints(2, "redis://127.0.0.1:6379/0", base)["action_endpoint"] == base["action_endpoint"]
    )
    with pytest.raises(EndpointsError, match="YOUTHLINK_REDIS_URL"):
        endpoints(2, "", base)
    with pytest.raises(EndpointsError):
        endpoints(0, "", base)


def test_main_writes_the_repos_endpoints_with_the_lock_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("YOUTHLINK_RASA_WORKERS", "2")
    monkeypatch.setenv("YOUTHLINK_REDIS_URL", "redis://:pw@127.0.0.1:6379/5")
    out = tmp_path / "var" / "endpoints.yml"
    assert main([str(out)]) == 0
    written = yaml.safe_load(out.read_text())
    assert written["tracker_store"]["type"] == "bot.tracker_store.EncryptedTrackerStore"
    assert written["lock_store"]["db"] == 5
    assert out.stat().st_mode & 0o077 == 0  # the password is for its owner only
    assert "pw" not in capsys.readouterr().out
    monkeypatch.delenv("YOUTHLINK_REDIS_URL")
    assert main([str(tmp_path / "other.yml")]) == 2
    assert "YOUTHLINK_REDIS_URL" in capsys.readouterr().err
    assert not (tmp_path / "other.yml").exists()
