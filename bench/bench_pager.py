"""Time from recording an escalation to the page arriving at Twilio and Telegram.

The handoff app runs with its pager attached (`handoff.pager.attach`), against fake Twilio and
Telegram servers on 127.0.0.1 and a migrated SQLite database (or `--database-url`). A lead is
on the rota with a phone number and a Telegram chat. Escalations are recorded the way the
gateway records them, in another thread with their own transactions, and the pager only finds
them by polling the database. Prints p50/p95/max over `--count` escalations recorded one by one,
then how long a burst of `--count` escalations recorded at once takes to be paged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import percentile  # noqa: E402
from handoff import escalations  # noqa: E402
from handoff.api import create_app  # noqa: E402
from handoff.models import RotaEntryRow, UserRow  # noqa: E402
from handoff.pager import PagerWorker, attach  # noqa: E402
from tests.support.db import fresh_settings, postgres_database, sqlite_url_in  # noqa: E402
from tests.support.fake_telegram import FakeTelegram  # noqa: E402
from tests.support.fake_twilio import FakeTwilio  # noqa: E402
from youthlink.config import Settings  # noqa: E402
from youthlink.crypto import Cipher  # noqa: E402
from youthlink.db import make_engine, make_sessionmaker  # noqa: E402
from youthlink.migrations import upgrade  # noqa: E402

LEAD_PHONE = "+447700900101"
LEAD_CHAT = "5550101"


@contextlib.contextmanager
def database(url: str | None, postgres: bool) -> Iterator[str]:
    if url:
        upgrade(url)
        yield url
    elif postgres:
        with postgres_database() as pg_url:
            upgrade(pg_url)
            yield pg_url
    else:
        with tempfile.TemporaryDirectory(prefix="bench-pager-") as directory:
            sqlite_url = sqlite_url_in(Path(directory))
            upgrade(sqlite_url)
            yield sqlite_url


def put_lead_on_rota(settings: Settings, cipher: Cipher) -> None:
    engine = make_engine(settings.database_url)
    now = datetime.now(UTC)
    with make_sessionmaker(engine).begin() as session:
        lead = UserRow(
            username=f"lead-{uuid.uuid4().hex[:8]}",
            role="safeguarding_lead",
            password_hash="-",
            active=True,
            must_change_password=False,
            failed_logins=0,
            created_at=now,
            updated_at=now,
        )
        session.add(lead)
        session.flush()
        session.add(
            RotaEntryRow(
                user_id=lead.id,
                position=1,
                phone_encrypted=cipher.encrypt(LEAD_PHONE),
                telegram_chat_encrypted=cipher.encrypt(LEAD_CHAT),
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
    engine.dispose()


class Gateway:
    """Records escalations as the gateway does: its own engine, one transaction each."""

    def __init__(self, settings: Settings, cipher: Cipher) -> None:
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.cipher = cipher

    def record(self) -> tuple[str, float]:
        with self.sessions.begin() as session:
            escalation = escalations.record_escalation(
                session,
                self.cipher,
                conversation_id=f"c_bench_{uuid.uuid4().hex[:16]}",
                channel="sms",
                severity=5,
                categories=["self_harm"],
                rule_ids=["bench.rule"],
                ruleset_version="bench",
                excerpt="synthetic benchmark disclosure",
            )
        return escalation.escalation_id, time.time()  # committed


def arrivals(twilio: FakeTwilio, telegram: FakeTelegram) -> dict[str, dict[str, float]]:
    """escalation id -> {"sms": received_at, "telegram": received_at}."""
    found: dict[str, dict[str, float]] = {}
    for channel, messages in (
        ("sms", [(m.body, m.received_at) for m in twilio.sent()]),
        ("telegram", [(m.text, m.received_at) for m in telegram.sent()]),
    ):
        for body, received_at in messages:
            escalation_id = body.rsplit("/", 1)[-1]
            found.setdefault(escalation_id, {}).setdefault(channel, received_at)
    return found


def wait_for_pages(
    twilio: FakeTwilio, telegram: FakeTelegram, ids: list[str], timeout: float = 60
) -> dict[str, dict[str, float]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = arrivals(twilio, telegram)
        if all(len(found.get(i, {})) == 2 for i in ids):
            return found
        time.sleep(0.01)
    raise TimeoutError("pages did not all arrive")


def one_by_one(
    gateway: Gateway, twilio: FakeTwilio, telegram: FakeTelegram, count: int
) -> tuple[list[float], list[float], list[float]]:
    sms, tg, both = [], [], []
    for _ in range(count):
        time.sleep(random.uniform(0.0, 1.0))  # at any point of the pager's polling cycle
        escalation_id, recorded = gateway.record()
        at = wait_for_pages(twilio, telegram, [escalation_id])[escalation_id]
        sms.append(at["sms"] - recorded)
        tg.append(at["telegram"] - recorded)
        both.append(max(at.values()) - recorded)
    return sms, tg, both


def burst(gateway: Gateway, twilio: FakeTwilio, telegram: FakeTelegram, count: int) -> float:
    started = time.time()
    ids = [gateway.record()[0] for _ in range(count)]
    found = wait_for_pages(twilio, telegram, ids)
    return max(max(found[i].values()) for i in ids) - started


def report(name: str, values: list[float]) -> None:
    p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
    print(f"{name:<24} p50 {p50:6.0f} ms   p95 {p95:6.0f} ms   max {max(values) * 1000:6.0f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL database")
    args = parser.parse_args()

    with (
        FakeTwilio() as twilio,
        FakeTelegram() as telegram,
        database(args.database_url, args.postgres) as url,
    ):
        settings = dataclasses.replace(
            fresh_settings(url),
            public_url="https://youthlink.example.org",
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_from_number="+447700900999",
            twilio_api_base=twilio.url,
            telegram_bot_token=telegram.token,
            telegram_api_base=telegram.api_root,
        )
        cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
        put_lead_on_rota(settings, cipher)
        app = create_app(settings)
        worker = attach(app, settings)
        assert isinstance(worker, PagerWorker)
        gateway = Gateway(settings, cipher)
        async with app.router.lifespan_context(app):
            print(f"database: {url.split(':', 1)[0]}, pager polls every "
                  f"{worker.policy.poll_interval:g} s, {args.count} escalations")  # fmt: skip
            sms, tg, both = await asyncio.to_thread(
                one_by_one, gateway, twilio, telegram, args.count
            )
            report("recorded -> SMS", sms)
            report("recorded -> Telegram", tg)
            report("recorded -> both", both)
            within = sum(1 for v in both if v <= 5.0)
            print(f"within the 5 s target: {within}/{len(both)}")
            total = await asyncio.to_thread(burst, gateway, twilio, telegram, args.count)
            print(f"burst of {args.count} at once: all {2 * args.count} pages in {total:.2f} s")
        gateway.engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
