"""A PostgreSQL database of each test process's own, dropped when the process ends.

Every PostgreSQL test makes a schema of its own and fills it: some 30 tables with their
indexes, thousands of rows in PostgreSQL's catalogs. In one shared database those rows stay
behind as dead tuples (the machines this runs on keep autovacuum off): after a day of runs
the catalogs held 4 million of them, and filling a schema took 0.4 s instead of 0.2. A
database of the process's own starts with clean catalogs and takes its tests' schemas with
it when dropped.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import uuid

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

PREFIX = "aiusage_t_"


def session_database(server_url: str) -> str:
    """The URL of a new database on `server_url`'s server, dropped at this process's exit;
    `server_url` itself when the server cannot be reached (the tests then skip, or fail
    under CI=true, as they would)."""
    name = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=3) as conn:
            _drop_left_behind(conn)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            # The tests never outlive a crash of the server, so no commit waits for its WAL
            # to reach the disk (each is still atomic, and seen by every later statement).
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(
                    sql.Identifier(name)
                )
            )
    except psycopg.OperationalError:
        return server_url
    atexit.register(_drop, server_url, name)
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop(server_url: str, name: str) -> None:
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(server_url, autocommit=True, connect_timeout=3) as conn,
    ):
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _drop_left_behind(conn: psycopg.Connection) -> None:
    """Drop the databases of test processes on this machine that are gone (killed before
    their exit could drop them)."""
    names = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (PREFIX + "%",))
    for (name,) in names.fetchall():
        found = re.fullmatch(rf"{PREFIX}(\d+)_[0-9a-f]+", name)
        if found is None or _alive(int(found.group(1))):
            continue
        with contextlib.suppress(psycopg.Error):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
