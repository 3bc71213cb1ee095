"""Webhook acknowledgement time and sustained throughput of the gateway's Twilio path.

The gateway runs as its own process (`youthlink serve gateway`, SQLite in a temporary directory
or `--database-url`), against a fake Rasa (echo) and a fake Twilio on 127.0.0.1 served from this
process. Requests are signed as Twilio signs them.

1. Acknowledgement time (signed POST /twilio/messages until the empty TwiML is back):
   p50/p99/max over `--count` messages sent one after another, with Rasa up, then with Rasa
   stopped (the message is stored and acknowledged; the relay waits), then with `--senders`
   senders at once.
2. Sustained throughput: `--burst` messages from `--numbers` phone numbers as fast as the senders
   can post; the time until every reply has reached the fake Twilio, and where the time went
   (stored -> relayed and answered -> sent), with the gateway process's CPU use.

Prints figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402

from bench.measure import cpu_seconds, percentile  # noqa: E402
from tests.support.db import (  # noqa: E402
    fresh_settings,
    postgres_database,
    settings_env,
    sqlite_url_in,
)
from tests.support.fake_rasa import FakeRasa  # noqa: E402
from tests.support.fake_twilio import FakeTwilio  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from youthlink.config import Settings  # noqa: E402
from youthlink.db import make_engine  # noqa: E402
from youthlink.migrations import upgrade  # noqa: E402

OUR_NUMBER = "+447700900000"


@contextlib.contextmanager
def gateway_process(settings: Settings, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        **settings_env(settings),
        "YOUTHLINK_RASA_URL": settings.rasa_url,
        "YOUTHLINK_PUBLIC_URL": settings.public_url,
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
        "TWILIO_FROM_NUMBER": settings.twilio_from_number,
        "YOUTHLINK_TWILIO_API_BASE": settings.twilio_api_base,
        "YOUTHLINK_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "youthlink.cli", "serve", "gateway", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("the gateway did not start")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


class Sender:
    """Posts signed inbound messages like Twilio does."""

    def __init__(self, twilio: FakeTwilio, url: str) -> None:
        self.twilio = twilio
        self.url = url
        self.client = httpx.Client(timeout=30)

    def post(self, number: str, body: str) -> float:
        sid = "SM" + secrets.token_hex(16)
        params = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.twilio.account_sid,
            "From": number,
            "To": OUR_NUMBER,
            "Body": body,
            "NumMedia": "0",
        }
        headers = {"X-Twilio-Signature": self.twilio.signature(self.url, params)}
        start = time.perf_counter()
        response = self.client.post(self.url, data=params, headers=headers)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"the gateway answered {response.status_code}")
        return elapsed


def report(label: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"  {label:<34} n={len(ms):>4}  p50 {percentile(ms, 50):6.1f} ms  "
        f"p99 {percentile(ms, 99):6.1f} ms  max {max(ms):6.1f} ms"
    )


def ack_times(sender: Sender, count: int, senders: int, prefix: str) -> list[float]:
    if senders <= 1:
        return [sender.post(f"+4477009{n % 50:05d}", f"{prefix} {n}") for n in range(count)]
    workers = [Sender(sender.twilio, sender.url) for _ in range(senders)]
    with concurrent.futures.ThreadPoolExecutor(senders) as pool:
        futures = [
            pool.submit(workers[n % senders].post, f"+4477009{n % 50:05d}", f"{prefix} {n}")
            for n in range(count)
        ]
        return [f.result() for f in futures]


def stage_times(database_url: str, since_id: int) -> tuple[list[float], list[float]]:
    """Per message: stored -> relayed and answered; answer queued -> sent (seconds)."""

    def seconds(a: object, b: object) -> float:
        def parse(v: object) -> datetime:
            return v if isinstance(v, datetime) else datetime.fromisoformat(str(v))

        return (parse(b) - parse(a)).total_seconds()

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            relayed = conn.execute(
                text(
                    "SELECT received_at, processed_at FROM inbox WHERE id > :i AND "
                    "processed_at IS NOT NULL"
                ),
                {"i": since_id},
            ).all()
            sent = conn.execute(
                text(
                    "SELECT o.created_at, o.sent_at FROM outbox o JOIN inbox i "
                    "ON o.in_reply_to = i.id WHERE i.id > :i AND o.sent_at IS NOT NULL"
                ),
                {"i": since_id},
            ).all()
    finally:
        engine.dispose()
    return [seconds(a, b) for a, b in relayed], [seconds(a, b) for a, b in sent]


def max_inbox_id(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM inbox")).scalar() or 0)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="messages per latency run")
    parser.add_argument("--senders", type=int, default=8, help="concurrent senders")
    parser.add_argument("--burst", type=int, default=600, help="messages in the throughput run")
    parser.add_argument("--numbers", type=int, default=60, help="phone numbers in that run")
    parser.add_argument("--database-url", help="instead of a temporary SQLite file")
    parser.add_argument(
        "--postgres", action="store_true", help="a throwaway PostgreSQL database on 127.0.0.1:5432"
    )
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        if args.database_url:
            database_url = args.database_url
        elif args.postgres:
            database_url = stack.enter_context(postgres_database())
        else:
            database_url = sqlite_url_in(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        upgrade(database_url)
        run(args, database_url)


def run(args: argparse.Namespace, database_url: str) -> None:
    """Start the fakes and the gateway process, then measure."""
    with FakeTwilio() as twilio:
        rasa = FakeRasa().start()
        port = free_port()
        settings = fresh_settings(
            database_url,
            rasa_url=rasa.url,
            public_url=f"http://127.0.0.1:{port}",
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_from_number=OUR_NUMBER,
            twilio_api_base=twilio.url,
        )
        backend = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        print(f"gateway process on {backend}, fake Rasa (echo) and fake Twilio on 127.0.0.1")
        with gateway_process(settings, port) as process:
            sender = Sender(twilio, f"{settings.public_url}/twilio/messages")
            for n in range(20):  # warm up connections, caches and the rules engine
                sender.post("+447700999999", f"warm up {n}")
            twilio.wait_for_messages(20, timeout=30)

            print("\nacknowledgement time (signed webhook until the empty TwiML is back)")
            report("Rasa up, one at a time", ack_times(sender, args.count, 1, "up"))
            twilio.wait_for_messages(20 + args.count, timeout=120)
            rasa.stop()
            report("Rasa stopped, one at a time", ack_times(sender, args.count, 1, "down"))
            report(
                f"Rasa stopped, {args.senders} senders at once",
                ack_times(sender, args.count, args.senders, "down2"),
            )
            rasa.start()
            expected = 20 + 3 * args.count + 50  # echoes, and one holding reply a number
            with contextlib.suppress(TimeoutError):
                twilio.wait_for_messages(expected, timeout=180)
            time.sleep(2)
            baseline = len(twilio.sent())

            print(
                f"\nsustained throughput: {args.burst} messages from {args.numbers} numbers, "
                f"{args.senders} senders, until every reply reached Twilio"
            )
            since = max_inbox_id(database_url)
            cpu_before = cpu_seconds(process.pid)
            start = time.perf_counter()
            workers = [Sender(twilio, sender.url) for _ in range(args.senders)]
            with concurrent.futures.ThreadPoolExecutor(args.senders) as pool:
                acks = list(
                    pool.map(
                        lambda n: workers[n % args.senders].post(
                            f"+4477008{n % args.numbers:05d}", f"burst {n}"
                        ),
                        range(args.burst),
                    )
                )
            accepted = time.perf_counter() - start
            twilio.wait_for_messages(baseline + args.burst, timeout=600)
            total = time.perf_counter() - start
            cpu = cpu_seconds(process.pid) - cpu_before
            print(
                f"  accepted (acknowledged) in {accepted:6.2f} s  "
                f"= {args.burst / accepted:6.1f} messages/s"
            )
            report("acknowledgement under that load", acks)
            print(
                f"  all answered and sent in  {total:6.2f} s  "
                f"= {args.burst / total:6.1f} messages/s end to end"
            )
            print(
                f"  gateway CPU: {cpu:.1f} s over {total:.1f} s "
                f"({100 * cpu / total:.0f}% of one core)"
            )
            relayed, sent = stage_times(database_url, since)
            if relayed:
                report("stored -> answered by Rasa", relayed)
            if sent:
                report("answer queued -> sent to Twilio", sent)
            rasa_requests = len(rasa.requests)
            print(f"  Rasa turns in total: {rasa_requests}")
        rasa.stop()


if __name__ == "__main__":
    main()
