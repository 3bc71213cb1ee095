"""Database fixtures: settings with fresh keys, a migrated SQLite file, a throwaway PostgreSQL.

Use them from a conftest with `from tests.support.db import ...`. `database_url` runs a test on
SQLite and on PostgreSQL (the latter marked `integration`); `sqlite_url` is SQLite only.
PostgreSQL must be on 127.0.0.1:5432 (trust auth, user postgres, database test); when it is not,
those tests skip, unless YOUTHLINK_REQUIRE_SERVICES=1, which makes them fail instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from youthlink.config import Settings
from youthlink.crypto import Cipher, new_key
from youthlink.db import make_engine, make_sessionmaker
from youthlink.migrations import upgrade

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_ADMIN_CONNINFO = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=test connect_timeout=3"


def services_required() -> bool:
    """Whether missing services must fail the run rather than skip tests."""
    return os.environ.get("YOUTHLINK_REQUIRE_SERVICES", "").strip() == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with `reason`, or fail when services are required."""
    if services_required():
        pytest.fail(f"{reason} (required: YOUTHLINK_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def fresh_settings(database_url: str, **overrides: Any) -> Settings:
    """Development settings with new random keys and tokens."""
    settings = Settings(
        env="development",
        database_url=database_url,
        encryption_keys=(new_key(),),
        hash_key=secrets.token_urlsafe(32),
        service_token=secrets.token_urlsafe(32),
        local_token=secrets.token_urlsafe(32),
        rasa_token=secrets.token_urlsafe(32),
        secret_key=secrets.token_urlsafe(32),
    )
    return dataclasses.replace(settings, **overrides)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that `Settings.from_env` turns back into `settings`."""
    return {
        "YOUTHLINK_ENV": settings.env,
        "YOUTHLINK_DATABASE_URL": settings.database_url,
        "YOUTHLINK_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
        "YOUTHLINK_HASH_KEY": settings.hash_key,
        "YOUTHLINK_SERVICE_TOKEN": settings.service_token,
        "YOUTHLINK_LOCAL_TOKEN": settings.local_token,
        "YOUTHLINK_RASA_TOKEN": settings.rasa_token,
        "YOUTHLINK_SECRET_KEY": settings.secret_key,
    }


def sqlite_url_in(directory: Path) -> str:
    """The URL of a SQLite file in `directory`."""
    return f"sqlite:///{directory / 'youthlink.db'}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (SQLAlchemy URL), dropped afterwards."""
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_CONNINFO, autocommit=True)
    except psycopg.OperationalError:
        skip_or_fail(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} (user postgres)")
        raise  # unreachable: skip_or_fail raises
    name = f"yl_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clear_tables(engine: Engine) -> None:
    """Delete every row of every app table (the schema and its version stay)."""
    names = [n for n in inspect(engine).get_table_names() if n != "alembic_version"]
    if not names:
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
            return
        conn.execute(text("PRAGMA defer_foreign_keys = ON"))
        for name in names:
            conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database for the whole session."""
    with postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """The session's PostgreSQL database, emptied after each test."""
    yield pg_database
    engine = make_engine(pg_database)
    try:
        clear_tables(engine)
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database file of this test's own."""
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    return url


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for `database_url` with fresh keys and tokens."""
    return fresh_settings(database_url)


@pytest.fixture
def cipher(settings: Settings) -> Cipher:
    """The cipher for `settings`' keys."""
    return Cipher.from_keys(settings.encryption_keys, settings.hash_key)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the test database."""
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test database."""
    return make_sessionmaker(engine)
