"""Read statements run on the driver's cursor, compiled once per dialect: for the few reads
every slash command makes, where SQLAlchemy's per-execution work (parameters, execution
context, result rows) cost more than the database did."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.selectable import SelectBase

from storage.driver import as_sqlalchemy

Processor = Callable[[Any], Any] | None


@dataclass(slots=True)
class _Plan:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order; None for named styles
    fixed: dict[str, Any]  # the statement's own constants, already in the driver's form
    processors: dict[str, Processor]  # for the caller's parameters
    # The result columns that need processing, by position, with their processor; made from
    # the first answer's column types: some types' processing depends on the driver's type
    # code (PostgreSQL's numerics).
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None


class CompiledRead:
    """`stmt`, compiled to the dialect's SQL once, run with the caller's values for its named
    bind parameters. Values go through the same type processing SQLAlchemy gives them on
    the way in and out (dates as ISO text on SQLite, say), so rows equal what
    `conn.execute(stmt, params)` returns, as plain tuples; and errors are SQLAlchemy's, as
    it raises them."""

    def __init__(self, stmt: SelectBase) -> None:
        self.stmt = stmt
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """All rows, inside `conn`'s transaction."""
        dialect = conn.dialect
        plan = self._plans.get(dialect.name) or self._plan(dialect)
        values = dict(plan.fixed)
        for name, value in params.items():
            processor = plan.processors[name]
            values[name] = value if processor is None or value is None else processor(value)
        driver = conn.connection.dbapi_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            if plan.positional is None:
                cursor.execute(plan.sql, values)
            else:
                cursor.execute(plan.sql, tuple(values[name] for name in plan.positional))
            fetched = cursor.fetchall()
            results = plan.results
            if results is None:
                results = plan.results = self._result_processors(dialect, cursor.description)
        except dialect.loaded_dbapi.Error as error:
            # As SQLAlchemy's own errors, which `storage.db.unavailable` and the 503 know.
            raise as_sqlalchemy(conn, error, plan.sql, values, cursor) from error
        finally:
            cursor.close()
        if not results:
            return [tuple(row) for row in fetched]
        # Only the columns that need it (a day on SQLite, say): most are taken as they come.
        out = []
        for row in fetched:
            columns = list(row)
            for i, processor in results:
                if (value := columns[i]) is not None:
                    columns[i] = processor(value)
            out.append(tuple(columns))
        return out

    def _plan(self, dialect: Dialect) -> _Plan:
        with self._lock:
            if dialect.name in self._plans:
                return self._plans[dialect.name]
            compiled = self.stmt.compile(dialect=dialect)
            # Parameters expanded or rendered at execution time need SQLAlchemy's own path.
            assert not compiled.literal_execute_params and not compiled.post_compile_params
            binds = compiled.binds
            given = {name for name, bind in binds.items() if bind.value is None}
            processors: dict[str, Processor] = {
                name: binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in binds
            }
            fixed = {}
            for name, value in compiled.construct_params(dict.fromkeys(given)).items():
                if name not in given:
                    processor = processors[name]
                    fixed[name] = value if processor is None or value is None else processor(value)
            positional = compiled.positiontup
            plan = _Plan(
                sql=str(compiled),
                positional=tuple(positional) if positional is not None else None,
                fixed=fixed,
                processors=processors,
            )
            self._plans[dialect.name] = plan
            return plan

    def _result_processors(
        self, dialect: Dialect, description: Any
    ) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        columns: Sequence[Any] = list(self.stmt.selected_columns)
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, described[1])
            for column, described in zip(columns, description, strict=True)
        )
        return tuple((i, p) for i, p in enumerate(processors) if p is not None)
