"""Encryption keys: where they come from, re-encrypting stored values under the newest, checking.

Every encrypted value in the app database lives in a `LargeBinary` column whose name ends in
`_encrypted`; the columns are found in `Base.metadata`, never listed by hand. A Fernet token
does not say which key made it, so a value counts as current when the first key alone decrypts
it. Re-encryption works in batches, each its own transaction, and only writes a value if it is
still the one that was read, so it can run next to the live services, be stopped, and be run
again (values already current are skipped). The Rasa tracker store keeps its own tables in its
own environment; it is rotated by running its command there.

Command line (`youthlink keys ...`): `new`, `rotate`, `check`, `retire`; see `docs/operations.md`.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Column, LargeBinary, MetaData, Table, and_, bindparam, inspect, or_, select
from sqlalchemy import func as sql_func
from sqlalchemy import tuple_ as sql_tuple
from sqlalchemy.engine import Engine, Row
from sqlalchemy.orm import Session

from youthlink.config import Settings
from youthlink.crypto import new_key
from youthlink.errors import ConfigurationError, YouthLinkError

log = logging.getLogger(__name__)

KEYS_ENV = "YOUTHLINK_ENCRYPTION_KEYS"
KEYS_FILE_ENV = "YOUTHLINK_ENCRYPTION_KEYS_FILE"
TRACKER_URL_ENV = "YOUTHLINK_TRACKER_DB_URL"
RASA_PYTHON_ENV = "YOUTHLINK_RASA_PYTHON"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
ENCRYPTED_SUFFIX = "_encrypted"
DEFAULT_BATCH_SIZE = 500

KEY_FILE_HEADER = (
    "# YouthLink encryption keys (Fernet), one per line, newest first.\n"
    "# The first key encrypts; every key listed decrypts. Keep this file out of the repository\n"
    "# and out of backups of the database it protects.\n"
)

# (label, values checked so far, values in all) after each batch.
Progress = Callable[[str, int, int], None]


class KeyTaskError(YouthLinkError):
    """A key task could not be done."""


class UnknownEncryptedColumns(KeyTaskError):
    """The database holds encrypted columns that no model declares."""


# --- where keys come from ---------------------------------------------------------------------


def parse_keys(text: str) -> tuple[str, ...]:
    """Keys from key-file text: one per line, newest first; blank lines and `#` comments skipped."""
    keys = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keys.append(line)
    return tuple(keys)


def validate_keys(keys: Sequence[str]) -> None:
    """Refuse an empty list, a repeated key, or anything that is not a Fernet key."""
    if not keys:
        raise ConfigurationError("no encryption keys configured")
    if len(set(keys)) != len(keys):
        raise ConfigurationError("an encryption key is listed twice")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError) as exc:
            raise ConfigurationError(f"encryption key #{position} is not a Fernet key") from exc


def read_key_file(path: Path) -> tuple[str, ...]:
    """The keys in a key file, newest first (checked to be valid Fernet keys)."""
    try:
        keys = parse_keys(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the key file {path} ({KEYS_FILE_ENV}): {exc.strerror}"
        ) from exc
    if not keys:
        raise ConfigurationError(f"the key file {path} ({KEYS_FILE_ENV}) holds no keys")
    validate_keys(keys)
    return keys


def write_key_file(path: Path, keys: Sequence[str]) -> None:
    """Replace the key file atomically (readable by its owner only), newest key first."""
    validate_keys(keys)
    path = path.resolve()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(KEY_FILE_HEADER + "".join(f"{key}\n" for key in keys))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_encryption_keys(environ: Mapping[str, str]) -> tuple[tuple[str, ...], Path | None]:
    """The keys (newest first) and the key file they came from, if any.

    `YOUTHLINK_ENCRYPTION_KEYS_FILE` names a file with one key per line; otherwise
    `YOUTHLINK_ENCRYPTION_KEYS` holds them comma-separated. Setting both is refused, so it is
    never unclear which list is in force.
    """
    file_name = environ.get(KEYS_FILE_ENV, "").strip()
    listed = tuple(k.strip() for k in environ.get(KEYS_ENV, "").split(",") if k.strip())
    if file_name:
        if listed:
            raise ConfigurationError(f"set either {KEYS_ENV} or {KEYS_FILE_ENV}, not both")
        path = Path(file_name)
        return read_key_file(path), path
    return listed, None


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    """`Settings.from_env`, with the encryption keys read from the key file when one is set."""
    keys, path = load_encryption_keys(environ)
    if path is None:
        return Settings.from_env(environ)
    plain = {k: v for k, v in environ.items() if k != KEYS_FILE_ENV}
    plain[KEYS_ENV] = ",".join(keys)
    return Settings.from_env(plain)


# --- which stored values are encrypted --------------------------------------------------------


@dataclass(frozen=True)
class EncryptedTable:
    """A table with encrypted columns, and those columns."""

    table: Table
    columns: tuple[Column[Any], ...]

    @property
    def name(self) -> str:
        """The table's name."""
        return self.table.name

    def labels(self) -> tuple[str, ...]:
        """`table.column` for each encrypted column."""
        return tuple(f"{self.table.name}.{c.name}" for c in self.columns)


def is_encrypted_column(column: Column[Any]) -> bool:
    """Whether a model column holds encrypted values (`LargeBinary`, named `*_encrypted`)."""
    return column.name.endswith(ENCRYPTED_SUFFIX) and isinstance(column.type, LargeBinary)


def encrypted_tables(metadata: MetaData) -> tuple[EncryptedTable, ...]:
    """Every table of `metadata` with encrypted columns (in dependency order)."""
    found = []
    for table in metadata.sorted_tables:
        columns = tuple(c for c in table.columns if is_encrypted_column(c))
        if columns:
            if not table.primary_key.columns:
                raise KeyTaskError(f"table {table.name} has encrypted columns but no primary key")
            found.append(EncryptedTable(table, columns))
    return tuple(found)


def present_tables(
    engine: Engine, tables: Sequence[EncryptedTable]
) -> tuple[tuple[EncryptedTable, ...], tuple[str, ...]]:
    """The tables that exist in the database, after refusing any encrypted column the models lack.

    Returns (present, absent names). A column named `*_encrypted` in the database that no model
    declares would otherwise be skipped by rotation and its old key dropped: data lost.
    """
    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    known = {label for t in tables for label in t.labels()}
    unknown = sorted(
        f"{name}.{column['name']}"
        for name in existing
        for column in inspector.get_columns(name)
        if column["name"].endswith(ENCRYPTED_SUFFIX) and f"{name}.{column['name']}" not in known
    )
    if unknown:
        raise UnknownEncryptedColumns(
            "the database holds encrypted columns no model declares: "
            + ", ".join(unknown)
            + " (add their module to youthlink/models_registry.py; the Rasa tracker tables"
            " belong in a database of their own)"
        )
    present = tuple(t for t in tables if t.name in existing)
    absent = tuple(t.name for t in tables if t.name not in existing)
    return present, absent


# --- keys at work -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRing:
    """The configured keys: the first encrypts, all decrypt."""

    keys: tuple[str, ...] = field(repr=False)
    first: Fernet
    older: tuple[Fernet, ...]
    every: MultiFernet

    @classmethod
    def from_keys(cls, keys: Sequence[str]) -> KeyRing:
        """Build from keys, newest first."""
        validate_keys(keys)
        fernets = [Fernet(k.encode("ascii")) for k in keys]
        return cls(tuple(keys), fernets[0], tuple(fernets[1:]), MultiFernet(fernets))

    def is_current(self, token: bytes) -> bool:
        """Whether the first key alone decrypts `token`."""
        try:
            self.first.decrypt(token)
        except InvalidToken:
            return False
        return True

    def is_readable_by_older(self, token: bytes) -> bool:
        """Whether one of the older keys decrypts `token`."""
        for fernet in self.older:
            try:
                fernet.decrypt(token)
            except InvalidToken:
                continue
            return True
        return False

    def rotate(self, token: bytes) -> bytes | None:
        """`token` re-encrypted under the first key (its timestamp kept), or None if no key can
        decrypt it."""
        try:
            return self.every.rotate(token)
        except InvalidToken:
            return None


def _rows(engine: Engine, entry: EncryptedTable, batch_size: int) -> Iterator[Sequence[Row[Any]]]:
    """Rows (primary key, then the encrypted columns) with any value set, in primary key order,
    in batches read each with its own short connection."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    key = list(entry.table.primary_key.columns)
    query = (
        select(*key, *entry.columns)
        .where(or_(*(c.is_not(None) for c in entry.columns)))
        .order_by(*key)
        .limit(batch_size)
    )
    last: tuple[Any, ...] | None = None
    while True:
        page = query
        if last is not None:
            page = query.where(
                key[0] > last[0] if len(key) == 1 else sql_tuple(*key) > sql_tuple(*last)
            )
        with engine.connect() as conn:
            rows = conn.execute(page).all()
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][: len(key)])


def _count_rows(engine: Engine, entry: EncryptedTable) -> int:
    query = (
        select(sql_func.count())
        .select_from(entry.table)
        .where(or_(*(c.is_not(None) for c in entry.columns)))
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


@dataclass(frozen=True)
class ColumnRotation:
    """What re-encrypting one column did."""

    column: str
    values: int = 0
    reencrypted: int = 0
    # Changed by the running services between our read and our write: left as they wrote it.
    changed_meanwhile: int = 0
    unreadable: int = 0


@dataclass(frozen=True)
class Rotation:
    """What re-encrypting the database did, column by column."""

    columns: tuple[ColumnRotation, ...]
    absent_tables: tuple[str, ...] = ()

    @property
    def values(self) -> int:
        """Values checked."""
        return sum(c.values for c in self.columns)

    @property
    def reencrypted(self) -> int:
        """Values re-encrypted under the first key."""
        return sum(c.reencrypted for c in self.columns)

    @property
    def unreadable(self) -> int:
        """Values no configured key decrypts."""
        return sum(c.unreadable for c in self.columns)

    @property
    def changed_meanwhile(self) -> int:
        """Values the services changed while they were being re-encrypted."""
        return sum(c.changed_meanwhile for c in self.columns)


def swap_statement(entry: EncryptedTable, column: Column[Any]) -> Any:
    """UPDATE one value by primary key, only if it still holds the token that was read."""
    key = list(entry.table.primary_key.columns)
    conditions = [c == bindparam(f"yl_key_{i}") for i, c in enumerate(key)]
    conditions.append(column == bindparam("yl_old", type_=LargeBinary()))
    return (
        entry.table.update()
        .where(and_(*conditions))
        .values({column.name: bindparam("yl_new", type_=LargeBinary())})
    )


def reencrypt(
    engine: Engine,
    ring: KeyRing,
    tables: Sequence[EncryptedTable],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> Rotation:
    """Re-encrypt under the first key every value that is not under it yet.

    Each batch is its own transaction and writes a value only if it is unchanged since it was
    read, so the services may keep running (configured with the same keys) and the run may be
    stopped and started again. Values no key decrypts are counted and left alone.
    """
    present, absent = present_tables(engine, tables)
    results: list[ColumnRotation] = []
    for entry in present:
        total = _count_rows(engine, entry)
        # Per column: values, re-encrypted, changed meanwhile, unreadable.
        tallies = {c.name: [0, 0, 0, 0] for c in entry.columns}
        statements = {c.name: swap_statement(entry, c) for c in entry.columns}
        width = len(entry.table.primary_key.columns)
        done = 0
        for rows in _rows(engine, entry, batch_size):
            changes: dict[str, list[dict[str, Any]]] = {c.name: [] for c in entry.columns}
            for row in rows:
                key = {f"yl_key_{i}": value for i, value in enumerate(row[:width])}
                for column, token in zip(entry.columns, row[width:], strict=True):
                    if token is None:
                        continue
                    tally = tallies[column.name]
                    tally[0] += 1
                    token = bytes(token)
                    if ring.is_current(token):
                        continue
                    rotated = ring.rotate(token)
                    if rotated is None:
                        tally[3] += 1
                    else:
                        changes[column.name].append({**key, "yl_old": token, "yl_new": rotated})
            if any(changes.values()):
                with engine.begin() as conn:
                    for name, params in changes.items():
                        if params:
                            written = int(conn.execute(statements[name], params).rowcount)
                            tallies[name][1] += written
                            tallies[name][2] += len(params) - written
            done += len(rows)
            if progress is not None:
                progress(entry.name, done, total)
        results.extend(
            ColumnRotation(f"{entry.name}.{name}", *tally) for name, tally in tallies.items()
        )
    rotation = Rotation(tuple(results), absent)
    log.info(
        "re-encryption: %d of %d values re-encrypted, %d unreadable",
        rotation.reencrypted,
        rotation.values,
        rotation.unreadable,
    )
    return rotation


@dataclass(frozen=True)
class ColumnCheck:
    """How the values of one column stand against the configured keys."""

    column: str
    values: int = 0
    current: int = 0
    older_only: int = 0
    unreadable: int = 0


@dataclass(frozen=True)
class KeyCheck:
    """Whether every stored value decrypts with the first key alone."""

    columns: tuple[ColumnCheck, ...]
    absent_tables: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the older keys can be dropped without losing anything."""
        return all(c.values == c.current for c in self.columns)

    @property
    def values(self) -> int:
        """Values checked."""
        return sum(c.values for c in self.columns)


def check(
    engine: Engine,
    ring: KeyRing,
    tables: Sequence[EncryptedTable],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> KeyCheck:
    """Decrypt every stored value with the first key alone; count what needs an older key and
    what no key decrypts. Reads only."""
    present, absent = present_tables(engine, tables)
    results: list[ColumnCheck] = []
    for entry in present:
        total = _count_rows(engine, entry)
        counts = {c.name: [0, 0, 0, 0] for c in entry.columns}
        width = len(entry.table.primary_key.columns)
        done = 0
        for rows in _rows(engine, entry, batch_size):
            for row in rows:
                for column, token in zip(entry.columns, row[width:], strict=True):
                    if token is None:
                        continue
                    tally = counts[column.name]
                    tally[0] += 1
                    token = bytes(token)
                    if ring.is_current(token):
                        tally[1] += 1
                    elif ring.is_readable_by_older(token):
                        tally[2] += 1
                    else:
                        tally[3] += 1
            done += len(rows)
            if progress is not None:
                progress(entry.name, done, total)
        results.extend(
            ColumnCheck(f"{entry.name}.{name}", *tally) for name, tally in counts.items()
        )
    return KeyCheck(tuple(results), absent)


def first_stale(
    engine: Engine,
    ring: KeyRing,
    tables: Sequence[EncryptedTable],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> str | None:
    """The `table.column` of the first value not under the first key, or None if all are."""
    present, _ = present_tables(engine, tables)
    for entry in present:
        width = len(entry.table.primary_key.columns)
        for rows in _rows(engine, entry, batch_size):
            for row in rows:
                for column, token in zip(entry.columns, row[width:], strict=True):
                    if token is not None and not ring.is_current(bytes(token)):
                        return f"{entry.name}.{column.name}"
    return None


# --- the tracker store, in the Rasa environment -----------------------------------------------


@dataclass(frozen=True)
class TrackerStoreCommand:
    """Runs `python -m bot.tracker_store ...` with the Rasa environment's Python.

    The tracker tables belong to the Rasa side (no table is shared across the environments),
    so their maintenance runs there, as a subprocess.
    """

    python: Path
    root: Path
    environ: Mapping[str, str]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], root: Path = PROJECT_ROOT
    ) -> TrackerStoreCommand | None:
        """The command, or None when no tracker database is configured
        (`YOUTHLINK_TRACKER_DB_URL`). `YOUTHLINK_RASA_PYTHON` overrides the interpreter
        (default `.venv-rasa/bin/python` in the project)."""
        if not environ.get(TRACKER_URL_ENV, "").strip():
            return None
        python = environ.get(RASA_PYTHON_ENV, "").strip()
        path = Path(python) if python else root / ".venv-rasa" / "bin" / "python"
        return cls(python=path, root=root, environ=dict(environ))

    def unavailable(self) -> str | None:
        """Why the command cannot run, or None."""
        if not (self.python.is_file() and os.access(self.python, os.X_OK)):
            return f"the Rasa environment's Python is missing ({self.python})"
        return None

    def run(
        self,
        args: Sequence[str],
        *,
        keys: Sequence[str],
        stderr: bool = False,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a tracker store command with `keys`; its stdout is captured, its stderr passed on
        (progress) or, with `stderr`, captured too."""
        env = {k: v for k, v in self.environ.items() if k != KEYS_FILE_ENV}
        env[KEYS_ENV] = ",".join(keys)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.root), env.get("PYTHONPATH", "")) if p
        )
        return subprocess.run(
            [str(self.python), "-m", "bot.tracker_store", *args],
            cwd=self.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr else None,
            text=True,
            timeout=timeout,
            check=False,
        )


def count_in(output: str, pattern: str) -> int | None:
    """The number captured by `pattern` (one group) in a command's `output`, or None."""
    match = re.search(pattern, output)
    return None if match is None else int(match.group(1))


# --- command line -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    environ: Mapping[str, str] = field(repr=False)
    keys: tuple[str, ...] = field(repr=False)
    key_file: Path | None
    settings: Settings = field(repr=False)
    out: TextIO
    err: TextIO

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    def warn(self, message: str) -> None:
        print(message, file=self.err, flush=True)


def _progress(err: TextIO) -> Progress:
    def show(label: str, done: int, total: int) -> None:
        print(f"  {label}: {done} of {total} rows", file=err, flush=True)

    return show


def _open(ctx: _Context) -> tuple[Engine, tuple[EncryptedTable, ...]]:
    from youthlink.db import make_engine
    from youthlink.models_registry import import_models

    return make_engine(ctx.settings.database_url), encrypted_tables(import_models())


def _audit(ctx: _Context, engine: Engine, action: str, detail: Mapping[str, int]) -> None:
    from youthlink.retention import handoff_audit_writer

    writer = handoff_audit_writer(engine)
    if writer is None:
        ctx.warn("note: no audit log in this database; nothing recorded there")
        return
    with Session(engine) as session, session.begin():
        writer(session, action, "encryption_keys", dict(detail))


def _rotate_tracker(ctx: _Context, keys: Sequence[str], batch_size: int, skip: bool) -> bool:
    """Rotate the tracker events; True when done (or nothing to do)."""
    tracker = TrackerStoreCommand.from_env(ctx.environ)
    if tracker is None:
        ctx.say(f"tracker store: {TRACKER_URL_ENV} is not set, nothing to rotate there")
        return True
    if skip:
        ctx.say("tracker store: skipped (--skip-tracker); rotate it before retiring old keys")
        return False
    reason = tracker.unavailable()
    if reason is not None:
        ctx.warn(
            f"tracker store: SKIPPED, {reason}. Run `python -m bot.tracker_store rotate` in the"
            " Rasa environment (with the new key list) before retiring old keys."
        )
        return False
    ctx.say("tracker store: re-encrypting events in the Rasa environment ...")
    done = tracker.run(["rotate", "--batch-size", str(batch_size)], keys=keys)
    count = count_in(done.stdout, r"re-encrypted (\d+) values")
    if done.returncode != 0 or count is None:
        ctx.warn(f"tracker store: rotation FAILED (exit code {done.returncode})")
        return False
    ctx.say(f"tracker store: re-encrypted {count} values")
    return True


def _new_key_list(
    ctx: _Context, args: argparse.Namespace, engine: Engine, tables: Sequence[EncryptedTable]
) -> tuple[str, ...]:
    """The key list to re-encrypt under: the current one, or a new key put first."""
    if args.resume:
        return ctx.keys
    if args.key:
        validate_keys([args.key])
        if args.key == ctx.keys[0]:
            return ctx.keys
        return (args.key, *(k for k in ctx.keys if k != args.key))
    if not args.force_new_key:
        stale = first_stale(engine, KeyRing.from_keys(ctx.keys), tables)
        if stale is not None:
            ctx.say(
                f"a rotation is unfinished ({stale} still holds values under an older key):"
                " continuing it under the current first key, no new key added"
                " (--force-new-key adds one anyway)"
            )
            return ctx.keys
    return (new_key(), *ctx.keys)


def _cmd_rotate(ctx: _Context, args: argparse.Namespace) -> int:
    if not ctx.keys:
        # Without the current keys nothing stored could be read, let alone re-encrypted.
        raise ConfigurationError(f"no encryption keys configured ({KEYS_ENV})")
    engine, tables = _open(ctx)
    try:
        keys = _new_key_list(ctx, args, engine, tables)
        if keys != ctx.keys:
            if ctx.key_file is not None:
                write_key_file(ctx.key_file, keys)
                ctx.say(f"wrote {len(keys)} keys to {ctx.key_file} (new key first)")
            else:
                ctx.say("New key list; store it now, as the only copy of the new key is here:")
                ctx.say(f"{KEYS_ENV}={','.join(keys)}")
                if not args.yes and not args.add_only:
                    ctx.say(
                        f"Nothing re-encrypted yet. Put this list in {KEYS_ENV} for every"
                        " service, restart them, then run `youthlink keys rotate --resume`."
                        " (Or run again with --yes once the list is stored.)"
                    )
                    return 0
            if args.add_only:
                ctx.say(
                    "Key added, nothing re-encrypted. Restart every service so it encrypts with"
                    " the new key, then run `youthlink keys rotate --resume`."
                )
                return 0
        ring = KeyRing.from_keys(keys)
        ctx.say(f"re-encrypting the app database under key 1 of {len(keys)} ...")
        rotation = reencrypt(
            engine, ring, tables, batch_size=args.batch_size, progress=_progress(ctx.err)
        )
        for column in rotation.columns:
            ctx.say(
                f"  {column.column}: {column.reencrypted} of {column.values} re-encrypted"
                + (f", {column.unreadable} UNREADABLE" if column.unreadable else "")
                + (
                    f", {column.changed_meanwhile} changed meanwhile"
                    if column.changed_meanwhile
                    else ""
                )
            )
        for name in rotation.absent_tables:
            ctx.say(f"  {name}: table not in this database, skipped")
        ctx.say(f"app database: re-encrypted {rotation.reencrypted} of {rotation.values} values")
        tracker_done = _rotate_tracker(ctx, keys, args.batch_size, args.skip_tracker)
        _audit(
            ctx,
            engine,
            "keys.rotate",
            {
                "keys": len(keys),
                "values": rotation.values,
                "reencrypted": rotation.reencrypted,
                "unreadable": rotation.unreadable,
            },
        )
    finally:
        engine.dispose()
    if rotation.unreadable:
        ctx.warn(
            f"{rotation.unreadable} values cannot be decrypted with any configured key; they"
            " stay as they are. Was a key removed too early?"
        )
        return 1
    ctx.say(
        "Next: restart the services if they do not have the new key list yet; run"
        " `youthlink keys check`; once it passes, retire the old keys"
        " (`youthlink keys retire`)."
        if tracker_done
        else "Next: rotate the tracker store too, then run `youthlink keys check`."
    )
    return 0


def _check_tracker(ctx: _Context, skip: bool) -> bool:
    tracker = TrackerStoreCommand.from_env(ctx.environ)
    if tracker is None:
        ctx.say(f"tracker store: {TRACKER_URL_ENV} is not set, nothing to check")
        return True
    if skip:
        ctx.say("tracker store: NOT CHECKED (--skip-tracker)")
        return False
    reason = tracker.unavailable()
    if reason is not None:
        ctx.warn(f"tracker store: NOT CHECKED, {reason}")
        return False
    done = tracker.run(["check"], keys=ctx.keys, stderr=True)
    if done.returncode == 2 and "invalid choice" in (done.stderr or ""):
        # A tracker store without `check`: its rotate re-encrypts only values not under the
        # first key, so reporting 0 is the same verdict (and a non-zero count fixes them).
        done = tracker.run(["rotate"], keys=ctx.keys)
        count = count_in(done.stdout, r"re-encrypted (\d+) values")
        if done.returncode == 0 and count == 0:
            ctx.say("tracker store: every value is under the first key (rotate found none to do)")
            return True
        if done.returncode == 0:
            ctx.warn(
                f"tracker store: {count} values were still under older keys; re-encrypted now,"
                " run the check again"
            )
        else:
            ctx.warn(f"tracker store: NOT CHECKED (exit code {done.returncode})")
        return False
    if done.returncode == 0:
        ctx.say("tracker store: every value decrypts with the first key")
        return True
    ctx.warn("tracker store: values remain under older keys, or it could not be checked")
    return False


def _run_check(ctx: _Context, args: argparse.Namespace) -> bool:
    if not ctx.keys:
        raise ConfigurationError(f"no encryption keys configured ({KEYS_ENV})")
    engine, tables = _open(ctx)
    try:
        result = check(engine, KeyRing.from_keys(ctx.keys), tables, progress=_progress(ctx.err))
    finally:
        engine.dispose()
    for column in result.columns:
        line = f"  {column.column}: {column.current} of {column.values} under the first key"
        if column.older_only:
            line += f", {column.older_only} need an older key"
        if column.unreadable:
            line += f", {column.unreadable} UNREADABLE with every configured key"
        ctx.say(line)
    for name in result.absent_tables:
        ctx.say(f"  {name}: table not in this database")
    tracker_ok = _check_tracker(ctx, args.skip_tracker)
    if result.ok:
        ctx.say(f"app database: all {result.values} values decrypt with the first key alone")
    else:
        ctx.warn("app database: NOT every value decrypts with the first key alone")
    return result.ok and tracker_ok


def _cmd_check(ctx: _Context, args: argparse.Namespace) -> int:
    if _run_check(ctx, args):
        ctx.say("OK: the older keys can be retired")
        return 0
    return 1


def _cmd_retire(ctx: _Context, args: argparse.Namespace) -> int:
    if len(ctx.keys) < 2:
        ctx.say("only one key is configured: nothing to retire")
        return 0
    if not _run_check(ctx, args):
        ctx.warn("not retiring: run `youthlink keys rotate --resume` first")
        return 1
    keys = ctx.keys[:1]
    if ctx.key_file is not None:
        write_key_file(ctx.key_file, keys)
        ctx.say(f"wrote {ctx.key_file} with the first key only; restart the services")
    else:
        ctx.say(f"Set this for every service and restart them:\n{KEYS_ENV}={keys[0]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `youthlink keys` argument parser."""
    parser = argparse.ArgumentParser(
        prog="youthlink keys", description="Encryption keys: add, re-encrypt, check, retire."
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("new", help="print a fresh random key")
    rotate = sub.add_parser(
        "rotate", help="put a new key first and re-encrypt everything stored under it"
    )
    which = rotate.add_mutually_exclusive_group()
    which.add_argument("--key", help="use this key instead of generating one")
    which.add_argument(
        "--resume",
        action="store_true",
        help="add no key: re-encrypt under the current first key (continue a rotation)",
    )
    rotate.add_argument(
        "--add-only", action="store_true", help="add the key but re-encrypt nothing yet"
    )
    which.add_argument(
        "--force-new-key",
        action="store_true",
        help="add a new key even if an earlier rotation is unfinished",
    )
    rotate.add_argument(
        "--yes",
        action="store_true",
        help=f"without a key file: the printed {KEYS_ENV} list is stored, go on re-encrypting",
    )
    rotate.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    rotate.add_argument("--skip-tracker", action="store_true", help="leave the tracker store")
    for name, text in (
        ("check", "verify every stored value decrypts with the first key alone"),
        ("retire", "drop every key but the first, after the check passes"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--skip-tracker", action="store_true", help="leave the tracker store")
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`youthlink keys new|rotate|check|retire`; settings from the environment."""
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if getattr(args, "batch_size", 1) < 1:
        print("error: --batch-size must be at least 1", file=err)
        return 2
    if args.action == "new":
        print(new_key(), file=out)
        return 0
    commands = {"rotate": _cmd_rotate, "check": _cmd_check, "retire": _cmd_retire}
    try:
        keys, key_file = load_encryption_keys(env)
        ctx = _Context(env, keys, key_file, settings_from_env(env), out, err)
        return commands[args.action](ctx, args)
    except (ConfigurationError, KeyTaskError) as exc:
        print(f"error: {exc}", file=err)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
