"""Settings read once from the environment at each entry point and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from youthlink.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite:///var/youthlink.db"


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know about its deployment."""

    env: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    encryption_keys: tuple[str, ...] = ()
    encryption_keys_file: str = ""
    hash_key: str = ""
    service_token: str = ""
    local_token: str = ""
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = ""
    rasa_keepalive: bool = True
    handoff_url: str = "http://127.0.0.1:8081"
    gateway_url: str = "http://127.0.0.1:8080"
    public_url: str = ""
    secret_key: str = ""
    escalate_at: int = 4
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_api_base: str = ""
    telegram_bot_token: str = ""
    telegram_secret_token: str = ""
    telegram_api_base: str = ""
    sms_max_segments: int = 3
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (`YOUTHLINK_*`, `TWILIO_*`, `TELEGRAM_*`)."""
        env = os.environ if environ is None else environ

        def get(name: str, default: str = "") -> str:
            return env.get(name, default).strip()

        def whole_number(name: str, default: str) -> int:
            try:
                return int(get(name, default))
            except ValueError as exc:
                raise ConfigurationError(f"{name} must be a whole number") from exc

        escalate_at = whole_number("YOUTHLINK_ESCALATE_AT", "4")
        # A kept-open connection stays with the Rasa process that accepted it, so with several
        # processes each message gets a connection of its own, taken by a process that is free
        # (docs/operations.md). Behind a load balancer that balances each request, keep them.
        rasa_keepalive = whole_number("YOUTHLINK_RASA_WORKERS", "1") <= 1
        keepalive_setting = get("YOUTHLINK_RASA_KEEPALIVE").lower()
        if keepalive_setting:
            if keepalive_setting not in ("0", "1"):
                raise ConfigurationError("YOUTHLINK_RASA_KEEPALIVE must be 0 or 1")
            rasa_keepalive = keepalive_setting == "1"
        from youthlink.keys import load_encryption_keys  # here: keys imports this module

        keys, keys_file = load_encryption_keys(env)
        settings = cls(
            env=get("YOUTHLINK_ENV", "development"),
            database_url=get("YOUTHLINK_DATABASE_URL", DEFAULT_DATABASE_URL),
            encryption_keys=keys,
            encryption_keys_file=str(keys_file or ""),
            hash_key=get("YOUTHLINK_HASH_KEY"),
            service_token=get("YOUTHLINK_SERVICE_TOKEN"),
            local_token=get("YOUTHLINK_LOCAL_TOKEN"),
            rasa_url=get("YOUTHLINK_RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=get("YOUTHLINK_RASA_TOKEN"),
            rasa_keepalive=rasa_keepalive,
            handoff_url=get("YOUTHLINK_HANDOFF_URL", "http://127.0.0.1:8081").rstrip("/"),
            gateway_url=get("YOUTHLINK_GATEWAY_URL", "http://127.0.0.1:8080").rstrip("/"),
            public_url=get("YOUTHLINK_PUBLIC_URL").rstrip("/"),
            secret_key=get("YOUTHLINK_SECRET_KEY"),
            escalate_at=escalate_at,
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_from_number=get("TWILIO_FROM_NUMBER"),
            twilio_api_base=get("YOUTHLINK_TWILIO_API_BASE").rstrip("/"),
            telegram_bot_token=get("TELEGRAM_BOT_TOKEN"),
            telegram_secret_token=get("TELEGRAM_SECRET_TOKEN"),
            telegram_api_base=get("YOUTHLINK_TELEGRAM_API_BASE").rstrip("/"),
            sms_max_segments=whole_number("YOUTHLINK_SMS_MAX_SEGMENTS", "3"),
            extra={k: v for k, v in env.items() if k.startswith("YOUTHLINK_X_")},
        )
        if settings.env == "production":
            settings.require_keys()
        return settings

    def require_keys(self) -> None:
        """Refuse to run without the secrets a real deployment needs."""
        missing = [
            name
            for name, value in (
                ("YOUTHLINK_ENCRYPTION_KEYS", self.encryption_keys),
                ("YOUTHLINK_HASH_KEY", self.hash_key),
                ("YOUTHLINK_SERVICE_TOKEN", self.service_token),
                ("YOUTHLINK_SECRET_KEY", self.secret_key),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError("missing required settings: " + ", ".join(missing))
