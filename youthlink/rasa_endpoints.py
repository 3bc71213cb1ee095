"""Rasa's endpoints file for running Rasa as several processes on one machine or more.

One Rasa process uses one core: on a 2-core machine it was the whole path's limit (see
docs/benchmarks.md). Rasa runs as several processes (Sanic workers, `SANIC_WORKERS`) only with a
lock store they share, so that one conversation's turns never run at once in two of them; Rasa's
own Redis lock store is that. This writes the repo's `bot/endpoints.yml` plus that lock store:

    YOUTHLINK_RASA_WORKERS=2 YOUTHLINK_REDIS_URL=redis://127.0.0.1:6379/0 \\
        python -m youthlink.rasa_endpoints var/endpoints.yml

`make run` does this itself when `YOUTHLINK_RASA_WORKERS` in `.env` is more than 1.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

REPO = Path(__file__).resolve().parents[1]
BASE = REPO / "bot" / "endpoints.yml"
KEY_PREFIX = "youthlink"  # Rasa accepts letters and digits only


class EndpointsError(ValueError):
    """The settings cannot make a working endpoints file (the message says why)."""


def lock_store(redis_url: str) -> dict[str, Any]:
    """Rasa's `lock_store` section for a `redis://[:password@]host[:port][/db]` URL."""
    parts = urlsplit(redis_url.strip())
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise EndpointsError("YOUTHLINK_REDIS_URL must look like redis://host:6379/0")
    db_text = parts.path.strip("/") or "0"
    if not db_text.isdigit():
        raise EndpointsError("the Redis database in YOUTHLINK_REDIS_URL must be a number")
    section: dict[str, Any] = {
        "type": "redis",
        "url": parts.hostname,
        "port": parts.port or 6379,
        "db": int(db_text),
        "key_prefix": KEY_PREFIX,
        "use_ssl": parts.scheme == "rediss",
    }
    if parts.password:
        section["password"] = unquote(parts.password)
    if parts.username:
        section["username"] = unquote(parts.username)
    return section


def endpoints(
    workers: int, redis_url: str, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The endpoints for `workers` Rasa processes: the base file, plus a shared lock store."""
    result = dict(base if base is not None else yaml.safe_load(BASE.read_text(encoding="utf-8")))
    if workers < 1:
        raise EndpointsError("YOUTHLINK_RASA_WORKERS must be 1 or more")
    if workers > 1:
        if not redis_url:
            raise EndpointsError(
                "more than one Rasa process needs a shared lock store: set YOUTHLINK_REDIS_URL"
            )
        result["lock_store"] = lock_store(redis_url)
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m youthlink.rasa_endpoints OUT.yml", file=sys.stderr)
        return 2
    raw_workers = os.environ.get("YOUTHLINK_RASA_WORKERS", "1").strip() or "1"
    try:
        if not raw_workers.isdigit():
            raise EndpointsError("YOUTHLINK_RASA_WORKERS must be a whole number")
        result = endpoints(int(raw_workers), os.environ.get("YOUTHLINK_REDIS_URL", ""))
    except EndpointsError as exc:
        print(f"youthlink: {exc}", file=sys.stderr)
        return 2
    out = Path(args[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(result, sort_keys=False), encoding="utf-8")
    out.chmod(0o600)  # it can hold the Redis password
    print(f"Rasa: {raw_workers} processes, endpoints in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
