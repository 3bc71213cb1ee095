"""Key files, re-encryption of every encrypted column of every table, the key check, the CLI."""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import CheckConstraint, MetaData, Table, select
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from tests.support import db as support_db
from youthlink import keys
from youthlink.config import Settings
from youthlink.crypto import new_key
from youthlink.db import make_engine
from youthlink.errors import ConfigurationError
from youthlink.models_registry import import_models

# Database fixtures (SQLite, and PostgreSQL marked integration) from tests/support/db.py.
database_url = support_db.database_url
engine = support_db.engine
pg_database = support_db.pg_database
pg_url = support_db.pg_url
settings = support_db.settings
sqlite_url = support_db.sqlite_url

REPO = Path(__file__).resolve().parents[2]
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
ROWS_PER_TABLE = 3


# --- synthetic rows in every table, found from the metadata -----------------------------------


def _allowed_values(table: Table) -> dict[str, list[str]]:
    """`column IN ('a', 'b')` check constraints: the values each column may take."""
    allowed = {}
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint):
            match = re.fullmatch(r"\s*(\w+) IN \((.*)\)\s*", str(constraint.sqltext))
            if match:
                allowed[match.group(1)] = re.findall(r"'([^']*)'", match.group(2))
    return allowed


def _python_type(column: Any) -> type:
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    try:
        return kind.python_type  # type: ignore[no-any-return]
    except NotImplementedError:
        return str


def plaintext(table: str, column: str, index: int) -> str:
    """What the synthetic row `index` of `table` holds (encrypted) in `column`."""
    return f"synthetic {table}.{column} #{index}: Sam, 07700 900{index:03d}"


def fill_every_table(engine: Engine, metadata: MetaData, key: str) -> dict[str, int]:
    """Insert synthetic rows in every table; encrypted columns hold tokens under `key`.

    Returns the number of encrypted (non-null) values per `table.column`. A nullable encrypted
    column is left NULL in the first row, which rotation must leave NULL.
    """
    fernet = Fernet(key.encode())
    now = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
    inserted: dict[str, list[dict[str, Any]]] = {}
    values_per_column: dict[str, int] = {}
    for table in metadata.sorted_tables:
        if table.name == "audit_log":
            continue  # append-only and hash-chained: only the code under test writes to it
        allowed = _allowed_values(table)
        rows = []
        for i in range(ROWS_PER_TABLE):
            row: dict[str, Any] = {}
            for column in table.columns:
                fks = list(column.foreign_keys)
                if fks:
                    parent = inserted[fks[0].column.table.name][i]
                    row[column.name] = parent[fks[0].column.name]
                elif keys.is_encrypted_column(column):
                    label = f"{table.name}.{column.name}"
                    if column.nullable and i == 0:
                        row[column.name] = None
                        continue
                    row[column.name] = fernet.encrypt(
                        plaintext(table.name, column.name, i).encode()
                    )
                    values_per_column[label] = values_per_column.get(label, 0) + 1
                elif column.name in allowed:
                    row[column.name] = allowed[column.name][0]
                else:
                    kind = _python_type(column)
                    if kind is bool:
                        row[column.name] = False
                    elif kind is int:
                        row[column.name] = i + 1
                    elif kind is float:
                        row[column.name] = 1.5
                    elif kind is datetime:
                        row[column.name] = now
                    elif kind in (dict, list):
                        row[column.name] = []
                    elif kind is bytes:
                        row[column.name] = b"x"
                    else:
                        length = getattr(column.type, "length", None) or 40
                        row[column.name] = f"{i}-{column.name}"[:length]
            rows.append(row)
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
        inserted[table.name] = rows
    return values_per_column


def snapshot(engine: Engine, metadata: MetaData) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in primary key order."""
    result = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "audit_log":
                continue
            order = list(table.primary_key.columns)
            rows = conn.execute(select(table).order_by(*order)).mappings().all()
            result[table.name] = [dict(r) for r in rows]
    return result


def assert_rotated(
    before: Mapping[str, list[dict[str, Any]]],
    after: Mapping[str, list[dict[str, Any]]],
    metadata: MetaData,
    new: str,
    old: str,
) -> int:
    """Every encrypted value decrypts with `new` alone to what it held under `old`, and
    nothing else changed. Returns how many encrypted values were compared."""
    only_new, only_old = Fernet(new.encode()), Fernet(old.encode())
    checked = 0
    for table in metadata.sorted_tables:
        if table.name not in before:
            continue
        encrypted = {c.name for c in table.columns if keys.is_encrypted_column(c)}
        assert len(after[table.name]) == len(before[table.name])
        for old_row, new_row in zip(before[table.name], after[table.name], strict=True):
            for name, value in old_row.items():
                if name not in encrypted or value is None:
                    assert new_row[name] == value, f"{table.name}.{name} changed"
                    continue
                plain = only_old.decrypt(bytes(value))
                assert only_new.decrypt(bytes(new_row[name])) == plain
                checked += 1
    return checked


@pytest.fixture
def old_key() -> str:
    return new_key()


@pytest.fixture
def metadata() -> MetaData:
    return import_models()


# --- key files and settings -------------------------------------------------------------------


@pytest.mark.unit
def test_key_file_is_newest_first_with_comments_and_blank_lines(tmp_path: Path) -> None:
    a, b = new_key(), new_key()
    path = tmp_path / "keys"
    path.write_text(f"# rotated 2025-01\n\n{a}\n  {b}  \n")
    assert keys.read_key_file(path) == (a, b)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("content", "message"),
    [("", "holds no keys"), ("not-a-key\n", "not a Fernet key"), ("{k}\n{k}\n", "twice")],
)
def test_a_bad_key_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "keys"
    path.write_text(content.format(k=new_key()))
    with pytest.raises(ConfigurationError, match=message):
        keys.read_key_file(path)


@pytest.mark.unit
def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read the key file"):
        keys.load_encryption_keys({keys.KEYS_FILE_ENV: str(tmp_path / "nope")})


@pytest.mark.unit
def test_write_key_file_replaces_it_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("old content\n")
    path.chmod(0o644)
    listed = (new_key(), new_key())
    keys.write_key_file(path, listed)
    assert keys.read_key_file(path) == listed
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keys"], "no temporary file is left"


@pytest.mark.unit
def test_keys_come_from_the_file_or_the_variable_never_both(tmp_path: Path) -> None:
    a, b = new_key(), new_key()
    path = tmp_path / "keys"
    path.write_text(f"{a}\n{b}\n")
    assert keys.load_encryption_keys({keys.KEYS_ENV: f"{a}, {b}"}) == ((a, b), None)
    assert keys.load_encryption_keys({keys.KEYS_FILE_ENV: str(path)}) == ((a, b), path)
    with pytest.raises(ConfigurationError, match="not both"):
        keys.load_encryption_keys({keys.KEYS_FILE_ENV: str(path), keys.KEYS_ENV: a})


@pytest.mark.unit
def test_production_starts_with_keys_from_a_file(tmp_path: Path) -> None:
    key = new_key()
    path = tmp_path / "keys"
    path.write_text(key + "\n")
    environ = {
        "YOUTHLINK_ENV": "production",
        keys.KEYS_FILE_ENV: str(path),
        "YOUTHLINK_HASH_KEY": "h",
        "YOUTHLINK_SERVICE_TOKEN": "s",
        "YOUTHLINK_SECRET_KEY": "k",
    }
    assert keys.settings_from_env(environ).encryption_keys == (key,)
    with pytest.raises(ConfigurationError, match="YOUTHLINK_ENCRYPTION_KEYS"):
        keys.settings_from_env({k: v for k, v in environ.items() if k != keys.KEYS_FILE_ENV})


# --- the key ring -----------------------------------------------------------------------------


@pytest.mark.unit
def test_a_token_is_current_only_under_the_first_key() -> None:
    old, new = new_key(), new_key()
    ring = keys.KeyRing.from_keys([new, old])
    under_old = Fernet(old.encode()).encrypt(b"own words")
    assert not ring.is_current(under_old)
    assert ring.is_readable_by_older(under_old)
    rotated = ring.rotate(under_old)
    assert rotated is not None and ring.is_current(rotated)
    assert Fernet(new.encode()).decrypt(rotated) == b"own words"
    assert Fernet(new.encode()).extract_timestamp(rotated) == Fernet(
        old.encode()
    ).extract_timestamp(under_old), "rotation keeps when the value was written"
    stranger = Fernet(new_key().encode()).encrypt(b"x")
    assert ring.rotate(stranger) is None
    assert not ring.is_readable_by_older(stranger)


# --- re-encrypting every table ----------------------------------------------------------------


def test_rotation_reencrypts_every_encrypted_column_of_every_table(
    engine: Engine, metadata: MetaData, old_key: str
) -> None:
    counts = fill_every_table(engine, metadata, old_key)
    tables = keys.encrypted_tables(metadata)
    assert set(counts) == {label for t in tables for label in t.labels()}, "data in every one"
    before = snapshot(engine, metadata)
    new = new_key()
    ring = keys.KeyRing.from_keys([new, old_key])
    assert keys.first_stale(engine, ring, tables) is not None
    assert not keys.check(engine, ring, tables).ok

    seen: list[tuple[str, int, int]] = []
    rotation = keys.reencrypt(
        engine, ring, tables, batch_size=2, progress=lambda *a: seen.append(a)
    )

    assert rotation.reencrypted == rotation.values == sum(counts.values())
    assert {c.column: c.reencrypted for c in rotation.columns} == counts
    assert assert_rotated(before, snapshot(engine, metadata), metadata, new, old_key) == sum(
        counts.values()
    )
    assert ("referrals", 2, ROWS_PER_TABLE) in seen and (
        "referrals",
        ROWS_PER_TABLE,
        ROWS_PER_TABLE,
    ) in seen, "progress after each batch"
    result = keys.check(engine, keys.KeyRing.from_keys([new]), tables)
    assert result.ok and result.values == sum(counts.values())
    assert keys.first_stale(engine, ring, tables) is None

    again = keys.reencrypt(engine, ring, tables)
    assert again.reencrypted == 0 and again.values == sum(counts.values())


def test_an_interrupted_rotation_continues_where_it_stopped(
    engine: Engine, metadata: MetaData, old_key: str
) -> None:
    counts = fill_every_table(engine, metadata, old_key)
    total = sum(counts.values())
    tables = keys.encrypted_tables(metadata)
    new = new_key()
    ring = keys.KeyRing.from_keys([new, old_key])

    class Stop(Exception):
        pass

    def stop_after_some(label: str, done: int, _total: int) -> None:
        if label == "referrals" and done >= 2:
            raise Stop

    with pytest.raises(Stop):
        keys.reencrypt(engine, ring, tables, batch_size=2, progress=stop_after_some)
    partial = keys.check(engine, ring, tables)
    assert not partial.ok
    done_before = sum(c.current for c in partial.columns)
    assert 0 < done_before < total

    rest = keys.reencrypt(engine, ring, tables, batch_size=2)
    assert rest.reencrypted == total - done_before, "nothing done twice"
    assert keys.check(engine, keys.KeyRing.from_keys([new]), tables).ok


def test_a_value_changed_meanwhile_is_not_overwritten(
    engine: Engine, metadata: MetaData, old_key: str
) -> None:
    fill_every_table(engine, metadata, old_key)
    (entry,) = [t for t in keys.encrypted_tables(metadata) if t.name == "referrals"]
    column = entry.columns[0]
    key_column = next(iter(entry.table.primary_key.columns))
    with engine.connect() as conn:
        row_id, read = conn.execute(select(key_column, column).order_by(key_column).limit(1)).one()
    written_by_service = Fernet(old_key.encode()).encrypt(b"a newer answer")
    with engine.begin() as conn:
        conn.execute(
            entry.table.update()
            .where(key_column == row_id)
            .values({column.name: written_by_service})
        )
        swapped = conn.execute(
            keys.swap_statement(entry, column),
            [{"yl_key_0": row_id, "yl_old": bytes(read), "yl_new": b"stale rotation"}],
        ).rowcount
    assert swapped == 0
    with engine.connect() as conn:
        stored = conn.execute(select(column).where(key_column == row_id)).scalar_one()
    assert bytes(stored) == written_by_service


def test_check_counts_values_needing_an_older_key_and_unreadable_ones(
    engine: Engine, metadata: MetaData, old_key: str
) -> None:
    counts = fill_every_table(engine, metadata, old_key)
    (entry,) = [t for t in keys.encrypted_tables(metadata) if t.name == "inbox"]
    key_column = next(iter(entry.table.primary_key.columns))
    with engine.begin() as conn:
        conn.execute(
            entry.table.update()
            .where(key_column == 1)
            .values(text_encrypted=Fernet(new_key().encode()).encrypt(b"under a lost key"))
        )
    new = new_key()
    result = keys.check(
        engine, keys.KeyRing.from_keys([new, old_key]), keys.encrypted_tables(metadata)
    )
    inbox = next(c for c in result.columns if c.column == "inbox.text_encrypted")
    assert (inbox.values, inbox.current, inbox.older_only, inbox.unreadable) == (3, 0, 2, 1)
    assert not result.ok
    rotation = keys.reencrypt(
        engine, keys.KeyRing.from_keys([new, old_key]), keys.encrypted_tables(metadata)
    )
    assert rotation.unreadable == 1
    assert rotation.reencrypted == sum(counts.values()) - 1


# --- the command line -------------------------------------------------------------------------


def run_keys(argv: list[str], environ: Mapping[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = keys.main(argv, environ, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def base_env(settings: Settings) -> dict[str, str]:
    return {
        "YOUTHLINK_DATABASE_URL": settings.database_url,
        "YOUTHLINK_HASH_KEY": settings.hash_key,
    }


def test_rotate_with_a_key_file_writes_it_reencrypts_and_retires(
    settings: Settings, engine: Engine, metadata: MetaData, old_key: str, tmp_path: Path
) -> None:
    counts = fill_every_table(engine, metadata, old_key)
    before = snapshot(engine, metadata)
    key_file = tmp_path / "keys"
    keys.write_key_file(key_file, [old_key])
    environ = {**base_env(settings), keys.KEYS_FILE_ENV: str(key_file)}

    code, out, err = run_keys(["rotate", "--batch-size", "2"], environ)

    assert code == 0, err
    listed = keys.read_key_file(key_file)
    assert len(listed) == 2 and listed[1] == old_key
    assert f"re-encrypted {sum(counts.values())} of {sum(counts.values())} values" in out
    assert "referrals: 2 of 3 rows" in err, "progress is shown"
    assert old_key not in out and listed[0] not in out, "a key file keeps keys off the screen"
    assert_rotated(before, snapshot(engine, metadata), metadata, listed[0], old_key)

    code, out, _ = run_keys(["rotate"], environ)
    assert code == 0
    assert keys.read_key_file(key_file)[1:] == listed, "a finished rotation: next one adds a key"

    code, out, _ = run_keys(["rotate", "--resume"], environ)
    assert code == 0 and "re-encrypted 0 of" in out

    code, out, _ = run_keys(["check"], environ)
    assert code == 0 and "OK" in out
    code, out, _ = run_keys(["retire"], environ)
    assert code == 0
    (only,) = keys.read_key_file(key_file)
    assert keys.check(engine, keys.KeyRing.from_keys([only]), keys.encrypted_tables(metadata)).ok


def test_rotate_without_a_key_file_prints_the_list_and_waits_until_it_is_stored(
    settings: Settings, engine: Engine, metadata: MetaData, old_key: str
) -> None:
    fill_every_table(engine, metadata, old_key)
    environ = {**base_env(settings), keys.KEYS_ENV: old_key}
    tables = keys.encrypted_tables(metadata)

    code, out, _ = run_keys(["rotate"], environ)

    assert code == 0
    match = re.search(rf"{keys.KEYS_ENV}=(\S+)", out)
    assert match is not None
    listed = match.group(1).split(",")
    assert listed[1:] == [old_key]
    assert "--resume" in out
    only_old = keys.KeyRing.from_keys([old_key])
    assert keys.check(engine, only_old, tables).ok, "nothing re-encrypted before it is stored"

    stored = {**environ, keys.KEYS_ENV: ",".join(listed)}
    code, out, _ = run_keys(["check"], stored)
    assert code == 1 and "need an older key" in out
    code, out, _ = run_keys(["rotate", "--resume"], stored)
    assert code == 0
    assert keys.check(engine, keys.KeyRing.from_keys(listed[:1]), tables).ok
    code, out, _ = run_keys(["check"], stored)
    assert code == 0 and "OK" in out


def test_rotate_again_after_an_interruption_continues_instead_of_adding_a_key(
    settings: Settings, engine: Engine, metadata: MetaData, old_key: str, tmp_path: Path
) -> None:
    fill_every_table(engine, metadata, old_key)
    added = new_key()
    key_file = tmp_path / "keys"
    # As left by `rotate --add-only`, or by a rotation stopped after writing the key file.
    keys.write_key_file(key_file, [added, old_key])
    environ = {**base_env(settings), keys.KEYS_FILE_ENV: str(key_file)}

    code, out, _ = run_keys(["rotate"], environ)

    assert code == 0 and "unfinished" in out
    assert keys.read_key_file(key_file) == (added, old_key)
    assert keys.check(engine, keys.KeyRing.from_keys([added]), keys.encrypted_tables(metadata)).ok


def test_rotate_add_only_and_a_given_key(
    settings: Settings, engine: Engine, metadata: MetaData, old_key: str, tmp_path: Path
) -> None:
    fill_every_table(engine, metadata, old_key)
    key_file = tmp_path / "keys"
    keys.write_key_file(key_file, [old_key])
    environ = {**base_env(settings), keys.KEYS_FILE_ENV: str(key_file)}
    chosen = new_key()

    code, out, _ = run_keys(["rotate", f"--key={chosen}", "--add-only"], environ)

    assert code == 0 and "nothing re-encrypted" in out
    assert keys.read_key_file(key_file) == (chosen, old_key)
    assert keys.check(engine, keys.KeyRing.from_keys([old_key]), keys.encrypted_tables(metadata)).ok
    code, _, _ = run_keys(["rotate", f"--key={chosen}"], environ)
    assert code == 0
    assert keys.read_key_file(key_file) == (chosen, old_key), "the key is already first"
    assert keys.check(engine, keys.KeyRing.from_keys([chosen]), keys.encrypted_tables(metadata)).ok


def test_retire_refuses_while_values_need_an_older_key(
    settings: Settings, engine: Engine, metadata: MetaData, old_key: str, tmp_path: Path
) -> None:
    fill_every_table(engine, metadata, old_key)
    key_file = tmp_path / "keys"
    keys.write_key_file(key_file, [new_key(), old_key])
    environ = {**base_env(settings), keys.KEYS_FILE_ENV: str(key_file)}
    code, _, err = run_keys(["retire"], environ)
    assert code == 1 and "not retiring" in err
    assert len(keys.read_key_file(key_file)) == 2


def test_rotation_is_recorded_in_the_audit_log(
    settings: Settings, engine: Engine, old_key: str, tmp_path: Path
) -> None:
    from handoff import audit
    from handoff.models import AuditRow
    from youthlink.db import make_sessionmaker

    key_file = tmp_path / "keys"
    keys.write_key_file(key_file, [old_key])
    environ = {**base_env(settings), keys.KEYS_FILE_ENV: str(key_file)}
    assert run_keys(["rotate"], environ)[0] == 0
    with make_sessionmaker(engine)() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.action == "keys.rotate")).all()
        assert len(rows) == 1
        assert rows[0].actor == "system"
        assert rows[0].detail == {"keys": 2, "values": 0, "reencrypted": 0, "unreadable": 0}
        assert audit.verify(session).ok


@pytest.mark.unit
def test_bad_settings_are_reported_not_raised(tmp_path: Path) -> None:
    code, _, err = run_keys(["check"], {keys.KEYS_FILE_ENV: str(tmp_path / "missing")})
    assert code == 2 and "cannot read the key file" in err
    code, _, err = run_keys(["rotate", "--batch-size", "0"], {})
    assert code == 2 and "batch-size" in err
    code, _, err = run_keys(["rotate"], {"YOUTHLINK_DATABASE_URL": "sqlite://"})
    assert code == 2 and "no encryption keys" in err


@pytest.mark.unit
def test_keys_never_show_in_a_repr() -> None:
    key = new_key()
    assert key not in repr(keys.KeyRing.from_keys([key]))


@pytest.mark.unit
def test_new_prints_a_working_key() -> None:
    code, out, _ = run_keys(["new"], {})
    assert code == 0
    Fernet(out.strip().encode())


# --- the tracker store ------------------------------------------------------------------------


def test_a_missing_rasa_environment_is_skipped_with_a_clear_message(
    settings: Settings, old_key: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys"
    keys.write_key_file(key_file, [old_key])
    environ = {
        **base_env(settings),
        keys.KEYS_FILE_ENV: str(key_file),
        keys.TRACKER_URL_ENV: f"sqlite:///{tmp_path / 'tracker.db'}",
        keys.RASA_PYTHON_ENV: str(tmp_path / "no-such-python"),
    }
    code, _, err = run_keys(["rotate"], environ)
    assert code == 0
    assert "tracker store: SKIPPED" in err and "no-such-python" in err
    code, _, err = run_keys(["check"], environ)
    assert code == 1 and "NOT CHECKED" in err


def _tracker_tables(url: str, environ: Mapping[str, str]) -> None:
    """Let the tracker store create its tables (in the Rasa environment)."""
    done = subprocess.run(
        [str(RASA_PYTHON), "-m", "bot.tracker_store", "rotate"],
        cwd=REPO,
        env={**environ, "PYTHONPATH": str(REPO), keys.TRACKER_URL_ENV: url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the Rasa environment (.venv-rasa) is missing")
def test_rotate_also_reencrypts_the_tracker_events_in_the_rasa_environment(
    sqlite_url: str, old_key: str, tmp_path: Path
) -> None:
    settings = support_db.fresh_settings(sqlite_url, encryption_keys=(old_key,))
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    key_file = tmp_path / "keys"
    keys.write_key_file(key_file, [old_key])
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("YOUTHLINK_")},
        **base_env(settings),
        keys.KEYS_FILE_ENV: str(key_file),
        keys.TRACKER_URL_ENV: tracker_url,
        keys.RASA_PYTHON_ENV: str(RASA_PYTHON),
    }
    _tracker_tables(tracker_url, {**environ, keys.KEYS_ENV: old_key})
    tracker = make_engine(tracker_url)
    try:
        reflected = MetaData()
        reflected.reflect(tracker)
        events = reflected.tables["tracker_events"]
        old = Fernet(old_key.encode())
        with tracker.begin() as conn:
            conn.execute(
                events.insert(),
                [
                    {
                        "sender_key": "k" * 64,
                        "type_name": "user",
                        "timestamp": 1_700_000_000.0 + i,
                        "data_encrypted": old.encrypt(b'{"event": "user", "text": "hi"}'),
                    }
                    for i in range(5)
                ],
            )

        code, out, err = run_keys(["rotate"], environ)

        assert code == 0, err
        assert "tracker store: re-encrypted 5 values" in out
        (first,) = keys.read_key_file(key_file)[:1]
        with tracker.connect() as conn:
            tokens = conn.execute(select(events.c.data_encrypted)).scalars().all()
        only_new = Fernet(first.encode())
        assert [only_new.decrypt(bytes(t)) for t in tokens] == [
            b'{"event": "user", "text": "hi"}'
        ] * 5

        code, out, err = run_keys(["check"], environ)
        assert code == 0, err
        assert "tracker store: every value" in out
        code, out, err = run_keys(["retire"], environ)
        assert code == 0, err
        assert keys.read_key_file(key_file) == (first,)
    finally:
        tracker.dispose()


@pytest.mark.unit
def test_the_tracker_command_gets_the_keys_and_the_project_on_its_path(tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text(
        "#!/bin/sh\n"
        'echo "args=$*"\n'
        'echo "keys=$YOUTHLINK_ENCRYPTION_KEYS"\n'
        'echo "file=${YOUTHLINK_ENCRYPTION_KEYS_FILE:-none}"\n'
        'echo "path=$PYTHONPATH"\n'
    )
    script.chmod(0o755)
    command = keys.TrackerStoreCommand.from_env(
        {
            keys.TRACKER_URL_ENV: "sqlite:///x.db",
            keys.RASA_PYTHON_ENV: str(script),
            keys.KEYS_FILE_ENV: "/somewhere/keys",
        },
        root=tmp_path,
    )
    assert command is not None and command.unavailable() is None
    done = command.run(["rotate", "--batch-size", "7"], keys=["k1", "k2"])
    assert "args=-m bot.tracker_store rotate --batch-size 7" in done.stdout
    assert "keys=k1,k2" in done.stdout and "file=none" in done.stdout
    assert f"path={tmp_path}" in done.stdout
    assert keys.TrackerStoreCommand.from_env({}) is None, "no tracker database: no command"
    assert shutil.which("sh") is not None
