"""Queue benchmarks on PostgreSQL (127.0.0.1:5432): claim latency with 8 concurrent workers,
and the queue page's render time with 10,000 referrals (also on SQLite, the default).

Prints figures; asserts nothing. Uses a throwaway database, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from bench.measure import percentile
from handoff import referrals, staff_sessions, users
from handoff.api import create_app
from handoff.dashboard import DashboardConfig
from handoff.queue import NothingToClaim, QueuePolicy, Staff, claim_next
from youthlink.config import Settings
from youthlink.crypto import Cipher, new_key
from youthlink.db import make_engine, make_sessionmaker
from youthlink.migrations import upgrade

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
WORKERS = 8
CLAIMS = 2000
PAGE_REFERRALS = 10_000
PAGE_REQUESTS = 200
PRIORITIES = ("urgent", "priority", "routine", "routine")


def summary(label: str, millis: list[float]) -> None:
    print(
        f"{label}: n={len(millis)} p50={percentile(millis, 50):.1f} ms "
        f"p95={percentile(millis, 95):.1f} ms max={max(millis):.1f} ms "
        f"mean={statistics.fmean(millis):.1f} ms"
    )


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except Exception as exc:  # any failure: report and carry on with what can run
        print(f"PostgreSQL not reachable on 127.0.0.1:5432 ({type(exc).__name__}): skipped")
        yield None
        return
    name = f"yl_bench_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=url,
        encryption_keys=(new_key(),),
        hash_key=secrets.token_urlsafe(32),
        service_token=secrets.token_urlsafe(32),
        secret_key=secrets.token_urlsafe(32),
    )


def seed(url: str, settings: Settings, count: int) -> None:
    """`count` finished referrals of mixed priority over the last 30 days."""
    from tests.support.referrals import make_referral

    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    try:
        for start in range(0, count, 500):
            with sessions.begin() as session:
                for n in range(start, min(count, start + 500)):
                    record = make_referral(f"c_bench_{n}", priority=PRIORITIES[n % 4])
                    created = now - timedelta(minutes=n * 4)
                    referrals.submit_referral(session, cipher, record, now=created)
    finally:
        engine.dispose()
    print(f"seeded {count} referrals in {time.perf_counter() - started:.1f} s")


def bench_claims(url: str) -> None:
    settings = settings_for(url)
    upgrade(url)
    seed(url, settings, CLAIMS)
    cipher = Cipher.from_keys(settings.encryption_keys, settings.hash_key)
    engine = make_engine(url, pool_size=WORKERS + 2)
    sessions = make_sessionmaker(engine)
    policy = QueuePolicy(caseload_cap=CLAIMS)
    try:
        staff = []
        for n in range(WORKERS):
            with sessions.begin() as session:
                user, _ = users.create_user(
                    session, f"bench.worker{n}", "link_worker", actor="system"
                )
            staff.append(Staff(user.id, user.role))
        latencies: list[float] = []
        lock = threading.Lock()
        barrier = threading.Barrier(WORKERS)

        def work(member: Staff) -> int:
            barrier.wait()
            mine = 0
            while True:
                started = time.perf_counter()
                try:
                    with sessions.begin() as session:
                        claim_next(session, cipher, member, policy)
                except NothingToClaim:
                    return mine
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                mine += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(WORKERS) as pool:
            counts = list(pool.map(work, staff))
        wall = time.perf_counter() - started
        summary(f"claim_next, {WORKERS} concurrent workers (PostgreSQL)", latencies)
        print(
            f"  {sum(counts)} claims in {wall:.1f} s ({sum(counts) / wall:.0f}/s); "
            f"per worker {min(counts)}-{max(counts)}"
        )
    finally:
        engine.dispose()


def bench_page(url: str, label: str) -> None:
    settings = settings_for(url)
    upgrade(url)
    seed(url, settings, PAGE_REFERRALS)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            user, _ = users.create_user(
                session, "bench.reader", "link_worker", actor="system", password="x" * 16
            )
            token = staff_sessions.open_session(session, user.id)
        app = create_app(settings, engine=engine, dashboard=DashboardConfig(cookie_secure=False))
        client = TestClient(app)
        client.cookies.set("yl_session", token)
        for path in ("/queue", "/queue?status=open&overdue=true", "/queue?page=200"):
            assert client.get(path).status_code == 200
            timings = []
            for _ in range(PAGE_REQUESTS):
                started = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            shown = re.search(r"<caption>(\d+) referral", response.text)
            total = shown.group(1) if shown else "?"
            summary(f"GET {path} with {PAGE_REFERRALS} referrals ({label}; {total} match)", timings)
    finally:
        engine.dispose()


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    with postgres() as url:
        if url is not None:
            bench_claims(url)
    with postgres() as url:
        if url is not None:
            bench_page(url, "PostgreSQL")
    with tempfile.TemporaryDirectory() as directory:
        bench_page(f"sqlite:///{Path(directory) / 'bench.db'}", "SQLite")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
