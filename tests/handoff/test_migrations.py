"""Migrations: the handoff branch creates exactly what the models describe, on both databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import handoff.models  # noqa: F401 (registers the tables on Base.metadata)
from tests.support.db import sqlite_url_in
from youthlink.db import Base, make_engine
from youthlink.migrations import downgrade, upgrade

REPO = Path(__file__).resolve().parents[2]
HANDOFF_TABLES = {"referrals", "escalations"}


def handoff_differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    def table_of(diff: object) -> str | None:
        # Alembic diffs: (kind, object) for tables, indexes and constraints;
        # (kind, schema, table, ...) for columns; lists of those for modifications.
        kind, *args = diff[0] if isinstance(diff, list) else diff  # type: ignore[index,misc]
        if kind.startswith("modify_") or kind in ("add_column", "remove_column"):
            return str(args[1])
        owner = args[0] if kind.endswith("_table") else getattr(args[0], "table", None)
        return getattr(owner, "name", None)

    return [d for d in diffs if table_of(d) in HANDOFF_TABLES]


def test_the_migrations_match_the_models(database_url: str) -> None:
    assert handoff_differences(database_url) == []


def test_upgrade_is_repeatable_and_labelled(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    upgrade(url)
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= HANDOFF_TABLES
        with engine.connect() as conn:
            versions = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        assert "handoff_0002" in versions
    finally:
        engine.dispose()


def test_the_handoff_branch_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    downgrade(url, "handoff@base")
    engine = make_engine(url)
    try:
        assert not HANDOFF_TABLES & set(inspect(engine).get_table_names())
        upgrade(url)
        assert set(inspect(engine).get_table_names()) >= HANDOFF_TABLES
    finally:
        engine.dispose()


def test_processes_starting_together_both_migrate(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    code = "import sys; from youthlink.migrations import upgrade; upgrade(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url], cwd=REPO, env=env, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    assert handoff_differences(url) == []


def test_the_alembic_command_reads_the_url_from_the_environment(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "YOUTHLINK_DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "heads"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) >= HANDOFF_TABLES
    finally:
        engine.dispose()


@pytest.mark.unit
def test_every_revision_is_in_the_versions_folder() -> None:
    versions = REPO / "youthlink" / "migrations" / "versions"
    assert (versions / "handoff_0001_referrals_escalations.py").exists()
    assert (REPO / "alembic.ini").read_text().count("script_location = youthlink/migrations") == 1
