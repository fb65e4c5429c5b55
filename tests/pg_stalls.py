"""Statements made slow at the database's side, in the test's own PostgreSQL schema: a
trigger or a view of the test's own that calls `pg_sleep`, as a statement stalled on I/O or
with a pathological plan would be; rows held locked by a transaction of the test's own; and
how many sessions wait on a lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import text

from tests.conftest import PG_ADMIN_URL


def in_schema(database_url: str, *statements: str) -> None:
    """Run `statements` in the test's own schema, as its owner."""
    schema = database_url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"SET search_path = {schema}")
        for statement in statements:
            admin.execute(statement)


@contextmanager
def stalled_writes(database_url: str, table: str, seconds: float) -> Iterator[None]:
    """Every statement that inserts into `table` first sleeps `seconds` (a trigger of the
    test's own, in its own schema), as a statement stalled on I/O would."""
    in_schema(
        database_url,
        "CREATE FUNCTION stall_for_test() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$",
        f"CREATE TRIGGER stall_for_test BEFORE INSERT ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION stall_for_test()",
    )
    try:
        yield
    finally:
        in_schema(
            database_url,
            f"DROP TRIGGER stall_for_test ON {table}",
            "DROP FUNCTION stall_for_test()",
        )


@contextmanager
def stalled_reads(database_url: str, table: str, seconds: float, when: str = "%") -> Iterator[None]:
    """Every statement that reads `table` (and whose text is LIKE `when`) sleeps `seconds`
    once (the table behind a view of the same name whose one-time filter sleeps), as a
    statement with a pathological plan would."""
    in_schema(
        database_url,
        # STABLE, so the planner evaluates it once a statement rather than once a row.
        "CREATE FUNCTION stall_for_test() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT "
        f"current_query() NOT ILIKE '{when}' OR pg_sleep({seconds}) IS NOT NULL $$",
        f"ALTER TABLE {table} RENAME TO {table}_behind_stall",
        f"CREATE VIEW {table} AS SELECT * FROM {table}_behind_stall WHERE stall_for_test()",
    )
    try:
        yield
    finally:
        in_schema(
            database_url,
            f"DROP VIEW {table}",
            f"ALTER TABLE {table}_behind_stall RENAME TO {table}",
            "DROP FUNCTION stall_for_test()",
        )


@contextmanager
def holding_rows(database_url: str, select: str) -> Iterator[None]:
    """The rows `select` finds, locked FOR UPDATE by a connection of the test's own, as a
    long transaction that wrote them would hold them."""
    schema = database_url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as locker:
        locker.execute(f"SET search_path = {schema}")
        with locker.transaction():
            assert locker.execute(f"{select} FOR UPDATE").fetchall(), "nothing to lock"
            yield


def waiting_on_locks(db) -> int:
    """Sessions of this database waiting on a lock just now."""
    with db.read() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
