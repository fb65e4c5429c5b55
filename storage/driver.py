"""Where storage speaks to the database driver itself (the compiled reads, COPY, SQLite's
BEGIN), its errors raised as SQLAlchemy raises them from its own execution.

Whoever reads a database error knows SQLAlchemy's kinds only: `storage.db.unavailable`,
the HTTP service's 503 with Retry-After, the command line's one line. A lock timeout met by
a compiled read, or a COPY cancelled, reached them as the driver's own exception, and was a
500 with a traceback where the same error from SQLAlchemy's execution was a 503.

On hot paths, `except conn.dialect.loaded_dbapi.Error as error: raise as_sqlalchemy(...)
from error`: a try costs nothing until it catches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc


def as_sqlalchemy(
    conn: Connection,
    error: Exception,
    statement: str,
    parameters: Any = None,
    cursor: Any = None,
) -> sa_exc.StatementError:
    """The SQLAlchemy exception its own execution raises for the driver's `error`
    (OperationalError for a lock timeout, a cancelled statement or a lost connection;
    ProgrammingError for a missing table or privilege), with the engine's
    `hide_parameters`. A lost connection is invalidated, as SQLAlchemy does, so the pool
    never hands it out again."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(cast(Any, error), conn.connection.dbapi_connection, cursor)
    wrapped = sa_exc.DBAPIError.instance(
        statement,
        parameters,
        error,
        dialect.loaded_dbapi.Error,
        hide_parameters=conn.engine.hide_parameters,
        connection_invalidated=lost,
        dialect=dialect,
    )
    if lost:
        conn.invalidate(error)
    return wrapped


def copy_rows(
    conn: Connection,
    statement: str,
    rows: Iterable[Sequence[Any]],
    types: Sequence[str] | None = None,
) -> None:
    """PostgreSQL's `COPY … FROM STDIN` of `rows`, in psycopg's C code (binary when the
    statement says so, with `types` naming each column's type), inside `conn`'s
    transaction."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            if types is not None:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as error:
        raise as_sqlalchemy(conn, error, statement, None, cursor) from error
