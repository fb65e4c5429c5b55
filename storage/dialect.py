"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite


def insert(conn: Connection, model: Any) -> Any:
    """An INSERT that knows ON CONFLICT, for this connection's dialect."""
    module = sqlite if conn.dialect.name == "sqlite" else postgresql
    return module.insert(model)


def insert_ignore(conn: Connection, model: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING."""
    return insert(conn, model).on_conflict_do_nothing()
