"""Every personal field is stored encrypted, and key rotation can find every encrypted column."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import Column, inspect, text
from sqlalchemy.engine import Engine

from tests.support import db as support_db
from youthlink import keys
from youthlink.db import make_engine
from youthlink.models_registry import MODEL_MODULES, import_models

# Database fixtures (SQLite, and PostgreSQL marked integration) from tests/support/db.py.
database_url = support_db.database_url
engine = support_db.engine
pg_database = support_db.pg_database
pg_url = support_db.pg_url
settings = support_db.settings
sqlite_url = support_db.sqlite_url

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("youthlink", "channels", "handoff")

# Words in a column name that suggest what a young person or a member of staff wrote or is
# reached by. Such a column must be encrypted (LargeBinary `*_encrypted`), be a keyed hash
# (`*_hash`), or be listed below with the reason it holds nothing personal.
PERSONAL_WORDS = frozenset(
    {"name", "text", "body", "address", "phone", "words", "notes", "note", "excerpt", "chat",
     "email", "postcode", "dob", "birth"}
)  # fmt: skip
NOT_PERSONAL = {
    "pages.body": "a page names only the escalation's severity and its dashboard link",
}


def _declares_tables(path: Path) -> bool:
    """Whether a module subclasses `Base` imported from `youthlink.db`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports_base = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "youthlink.db"
        and any(alias.name == "Base" for alias in node.names)
        for node in ast.walk(tree)
    )
    return imports_base and any(
        isinstance(node, ast.ClassDef)
        and any(isinstance(b, ast.Name) and b.id == "Base" for b in node.bases)
        for node in ast.walk(tree)
    )


@pytest.mark.unit
def test_every_module_that_declares_tables_is_registered() -> None:
    declaring = {
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if "migrations" not in path.parts and _declares_tables(path)
    }
    assert {"handoff.models", "channels.tables"} <= declaring, "the scan itself works"
    missing = sorted(declaring - set(MODEL_MODULES))
    assert not missing, f"add to youthlink/models_registry.py MODEL_MODULES: {missing}"


def _looks_personal(column: Column[object]) -> bool:
    return bool(PERSONAL_WORDS & set(column.name.lower().split("_")))


@pytest.mark.unit
def test_every_column_that_looks_personal_is_encrypted() -> None:
    metadata = import_models()
    exposed = [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if _looks_personal(column)
        and not keys.is_encrypted_column(column)
        and not column.name.endswith("_hash")
        and f"{table.name}.{column.name}" not in NOT_PERSONAL
    ]
    assert not exposed, f"personal-looking columns stored in clear: {exposed}"


@pytest.mark.unit
def test_every_column_named_encrypted_is_binary_so_rotation_finds_it() -> None:
    metadata = import_models()
    wrong = [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_encrypted") and not keys.is_encrypted_column(column)
    ]
    assert not wrong, f"*_encrypted columns that are not LargeBinary: {wrong}"
    found = {label for t in keys.encrypted_tables(metadata) for label in t.labels()}
    # The fields the design names as encrypted are among them.
    assert {
        "conversations.address_encrypted",
        "inbox.text_encrypted",
        "outbox.body_encrypted",
        "referrals.record_encrypted",
        "escalations.excerpt_encrypted",
        "escalations.action_taken_encrypted",
    } <= found


@pytest.mark.unit
def test_the_allow_list_names_real_columns() -> None:
    metadata = import_models()
    columns = {f"{t.name}.{c.name}" for t in metadata.sorted_tables for c in t.columns}
    assert set(NOT_PERSONAL) <= columns, "remove stale entries from NOT_PERSONAL"


@pytest.mark.unit
def test_the_checks_catch_a_clear_personal_column() -> None:
    from sqlalchemy import LargeBinary, String

    assert _looks_personal(Column("preferred_name", String(80)))
    assert _looks_personal(Column("phone", String(20)))
    assert not _looks_personal(Column("channel", String(20)))
    assert keys.is_encrypted_column(Column("phone_encrypted", LargeBinary))
    assert not keys.is_encrypted_column(Column("phone_encrypted", String(20)))


def test_the_migrated_database_has_exactly_the_modelled_encrypted_columns(
    engine: Engine,
) -> None:
    metadata = import_models()
    inspector = inspect(engine)
    in_database = {
        f"{name}.{column['name']}"
        for name in inspector.get_table_names()
        for column in inspector.get_columns(name)
        if column["name"].endswith("_encrypted")
    }
    modelled = {label for t in keys.encrypted_tables(metadata) for label in t.labels()}
    assert in_database == modelled
    present, absent = keys.present_tables(engine, keys.encrypted_tables(metadata))
    assert absent == ()
    assert len(present) == len(keys.encrypted_tables(metadata))


@pytest.mark.unit
def test_an_encrypted_column_no_model_declares_stops_rotation(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE extra (id INTEGER PRIMARY KEY, secret_encrypted BLOB)"))
        with pytest.raises(keys.UnknownEncryptedColumns, match=r"extra\.secret_encrypted"):
            keys.present_tables(engine, keys.encrypted_tables(import_models()))
    finally:
        engine.dispose()
