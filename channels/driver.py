"""The short path's statements run straight on the SQLite driver, each compiled once.

On SQLite most of a short statement's cost is SQLAlchemy's work around it (looking up the
compiled form, building the parameters, the execution context, the result object), not
SQLite's. `DriverConnection` runs the statements registered here on the driver's own cursor,
compiled by SQLAlchemy once per set of parameter names, with SQLAlchemy's own type conversions
(`TypeEngine.bind_processor` / `result_processor` of the dialect), so the rows written and read
are the ones SQLAlchemy would write and read. Any other statement goes through SQLAlchemy as
usual. Driver errors are raised as SQLAlchemy's (`OperationalError` for a lock), parameters
hidden.

Only for SQLite: on PostgreSQL the short path's transactions run in worker threads, where a
round trip to the server outweighs this.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

S = TypeVar("S", bound=ClauseElement)

_REGISTERED: set[int] = set()
_KEEP: list[ClauseElement] = []  # registered statements live as long as the process


def on_driver(statement: S) -> S:
    """Mark a statement built once (module level) as one `DriverConnection` may run itself."""
    _REGISTERED.add(id(statement))
    _KEEP.append(statement)
    return statement


Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]
    binds: tuple[Processor, ...]
    row: Any  # a namedtuple class, or None for a statement that returns no rows
    results: tuple[Processor, ...]


_COMPILED: dict[tuple[int, str, tuple[str, ...]], _Compiled] = {}


def _compile(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None
    names = tuple(compiled.positiontup)
    binds = compiled.binds
    if any(bind.expanding or bind.callable is not None for bind in binds.values()):
        raise ValueError("a statement run on the driver cannot expand or compute parameters")
    constants = {name: binds[name].value for name in names if name not in keys}
    processors = tuple(
        binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
    )
    columns = list(getattr(statement, "exported_columns", ()))
    row: Any = None
    results: tuple[Processor, ...] = ()
    if columns:
        row = namedtuple("DriverRow", [column.key for column in columns])  # type: ignore[misc, no-redef]
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
    return _Compiled(compiled.string, names, constants, processors, row, results)


class DriverResult:
    """The rows of one statement, read as SQLAlchemy's `Result` is in the short path."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> Sequence[Any]:
        """Every row."""
        return self._rows

    def first(self) -> Any:
        """The first row, or None."""
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        """The only row (raises unless there is exactly one)."""
        if len(self._rows) != 1:
            raise ValueError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self) -> Any:
        """The first column of the first row, or None."""
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        """The first column of the only row."""
        return self.one()[0]

    def scalars(self) -> DriverResult:
        """The first column of each row."""
        return DriverResult([row[0] for row in self._rows], self.rowcount)


class DriverConnection:
    """A SQLAlchemy connection to SQLite whose registered statements run on the driver."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        raw = connection.connection.driver_connection
        assert raw is not None
        self._raw = raw

    def execute(
        self, statement: Any, parameters: Mapping[str, Any] | None = None
    ) -> DriverResult | Any:
        """Run `statement`: on the driver when registered, otherwise through SQLAlchemy."""
        if id(statement) not in _REGISTERED:
            return self.connection.execute(statement, parameters)
        params = parameters or {}
        key = (id(statement), self.dialect.name, tuple(params))
        compiled = _COMPILED.get(key)
        if compiled is None:
            compiled = _COMPILED[key] = _compile(statement, self.dialect, tuple(params))
        values = []
        for name, process in zip(compiled.names, compiled.binds, strict=True):
            value = params[name] if name in params else compiled.constants[name]
            values.append(value if process is None or value is None else process(value))
        try:
            cursor = self._raw.execute(compiled.sql, values)
            fetched = cursor.fetchall() if compiled.row is not None else []
            rowcount = cursor.rowcount
            cursor.close()
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                compiled.sql,
                None,
                exc,
                self.dialect.loaded_dbapi.Error,
                hide_parameters=True,
                dialect=self.dialect,
            ) from exc
        if compiled.row is None:
            return DriverResult([], rowcount)
        make, processors = compiled.row._make, compiled.results
        rows = [
            make(
                value if process is None or value is None else process(value)
                for value, process in zip(raw_row, processors, strict=True)
            )
            for raw_row in fetched
        ]
        return DriverResult(rows, rowcount)
