"""Write a development env file with fresh random keys and tokens (never used in production)."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from youthlink.crypto import new_key

TEMPLATE = """\
# YouthLink development settings: generated on first `make run`; never commit this file.
YOUTHLINK_ENV=development
YOUTHLINK_DATABASE_URL=sqlite:///var/youthlink.db
YOUTHLINK_TRACKER_DB_URL=sqlite:///var/tracker.db
YOUTHLINK_ENCRYPTION_KEYS={encryption_key}
YOUTHLINK_HASH_KEY={hash_key}
YOUTHLINK_SERVICE_TOKEN={service_token}
YOUTHLINK_LOCAL_TOKEN={local_token}
YOUTHLINK_RASA_TOKEN={rasa_token}
YOUTHLINK_SECRET_KEY={secret_key}
YOUTHLINK_RASA_URL=http://127.0.0.1:5005
YOUTHLINK_HANDOFF_URL=http://127.0.0.1:8081
YOUTHLINK_GATEWAY_URL=http://127.0.0.1:8080
YOUTHLINK_ESCALATE_AT=4
# Rasa uses one core per process. With more cores, run several (they share a Redis lock store):
# YOUTHLINK_RASA_WORKERS=2
# YOUTHLINK_REDIS_URL=redis://127.0.0.1:6379/0
# (the gateway then opens a connection to Rasa per message; YOUTHLINK_RASA_KEEPALIVE=1 keeps them)
# Telegram: set TELEGRAM_BOT_TOKEN (from BotFather) to use it; the webhook secret is ready.
TELEGRAM_SECRET_TOKEN={telegram_secret}
"""


def render() -> str:
    """The env file text with newly generated secrets."""
    return TEMPLATE.format(
        encryption_key=new_key(),
        hash_key=secrets.token_urlsafe(32),
        service_token=secrets.token_urlsafe(32),
        local_token=secrets.token_urlsafe(32),
        rasa_token=secrets.token_urlsafe(32),
        secret_key=secrets.token_urlsafe(32),
        telegram_secret=secrets.token_hex(32),
    )


def write(path: Path) -> bool:
    """Create the env file if it does not exist; return whether it was written."""
    if path.exists():
        return False
    path.write_text(render(), encoding="utf-8")
    path.chmod(0o600)
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else ".env")
    if write(path):
        print(f"wrote {path} with fresh random keys (development only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
