"""Alembic environment: the URL comes from the caller (`upgrade(url)`) or YOUTHLINK_DATABASE_URL."""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection

from youthlink.config import DEFAULT_DATABASE_URL
from youthlink.db import Base, make_engine
from youthlink.models_registry import import_models

# Any fixed number: PostgreSQL advisory lock held while migrating, so concurrent starts queue.
MIGRATION_LOCK_KEY = 7_031_942_118

config = context.config


def _import_models() -> None:
    import_models()


def _url() -> str:
    url = config.attributes.get("url") or os.environ.get("YOUTHLINK_DATABASE_URL", "").strip()
    return str(url or config.get_main_option("sqlalchemy.url") or DEFAULT_DATABASE_URL)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL for the URL's dialect instead of running it (`alembic upgrade heads --sql`)."""
    context.configure(
        url=_url(),
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
_import_models()
if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
