"""The engine, tuned per dialect: PostgreSQL's timeouts for a silent server, for a lock held
too long and for a statement that runs too long; SQLite's pragmas and its BEGIN on the
driver's connection."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url

from storage.bulk import track_staging
from storage.driver import as_sqlalchemy
from storage.readers import READERS_KEPT

SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_MMAP_BYTES = 1 << 30  # a file larger than this is mapped up to here, read beyond it

# How long PostgreSQL may stay silent before its connection counts as lost; a URL's own
# values win. Without them a host that vanished (a failover, a network cut: packets dropped,
# not refused) held every request on a pooled connection for the kernel's retransmission
# limit, about 15 minutes, and every new connection for psycopg's 130 s, so a replica stopped
# answering long after the database was back or another took over. A slow query is not cut:
# the server's kernel acknowledges both the query and the keepalive probes meanwhile.
POSTGRES_CONNECT_DEFAULTS: dict[str, int] = {
    "connect_timeout": 10,  # seconds, for the whole connection start
    "tcp_user_timeout": 10_000,  # ms that sent data may go unacknowledged
    "keepalives": 1,  # and probes on an idle connection waiting for an answer
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

# The same from the server's side, so that a backend whose client went silent (a network
# partition: our side gives up, the server's would wait out the OS's two-hour keepalive)
# ends, and with it its transaction's row locks and its advisory locks, which other replicas
# would otherwise wait on or take for a live job's. Set per connection: any role may, and a
# connection pooler passes SET where it may refuse startup options. tcp_user_timeout needs
# PostgreSQL 12. A setting the URL's `options` names is left as it says.
POSTGRES_SERVER_SILENCE: dict[str, int] = {
    "tcp_keepalives_idle": 10,
    "tcp_keepalives_interval": 5,
    "tcp_keepalives_count": 3,
    "tcp_user_timeout": 10_000,
    # A client that died without a word (SIGKILL, an OOM kill) closed its socket, but a
    # backend in the middle of a statement or waiting for a lock does not look at it: a killed
    # `aiusage people forget` kept the person's rows locked, and queued every batch of their
    # usage, as long as the lock it waited for was held. Looked at every 2 s now (ms; 14+).
    "client_connection_check_interval": 2_000,
}
# How long a session may sit in a transaction with no statement running before the server
# ends it, and its row, table and advisory locks with it: a process frozen in the middle of a
# transaction (SIGSTOP, a debugger, a thread stuck on something of its own) held them for as
# long as it lived, and every request that needed those rows queued behind it. No path here
# waits on anything but the database inside a transaction (Slack, the vendors' APIs and the
# files imported are read between transactions; a job's claim holds its advisory lock
# outside one), so the idle gaps are Python's own work between two statements, milliseconds
# (the integrity scan judging 5,000 streamed rows a fetch, alembic loading the migrations).
# A minute is far past those, and past a loaded machine's stalls, and still lets the locks
# go within a minute. A waiting or running statement is not idle: lock waits and long
# statements are `lock_timeout`'s and `statement_timeout`'s. A URL's `options` naming it wins.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
# The oldest server version each setting above is known to, and below which it is not sent.
_SINCE_VERSION = {
    "tcp_user_timeout": 120000,
    "client_connection_check_interval": 140000,
    "idle_in_transaction_session_timeout": 90600,
}

# How long a statement on PostgreSQL waits for a lock another transaction holds before it
# gives up (SQLSTATE 55P03, which `storage.db.unavailable` counts as the database being
# unable to serve: a 503 with Retry-After, or Slack's apology). Without it one transaction
# held long (a forget, a job, an operator's psql session) held every request that touched
# its rows as long as it lasted, each with a worker thread and a pooled connection. 2 s
# leaves a slash command, answered in its ack, a second of Slack's 3 to say so; a lock held
# in the normal run of things (another batch's few rows) is let go in milliseconds. Work
# that may wait asks for it: `patient`. A URL's `options` naming lock_timeout wins.
REQUEST_LOCK_TIMEOUT_MS = 2_000

# How long one statement of a request may run on PostgreSQL, lock waits included, before the
# server cancels it (SQLSTATE 57014, which `storage.db.unavailable` counts as the database
# being unable to serve, as it does a lock timeout). Without it a statement slow for any other
# reason (a pathological plan, an I/O stall, a huge sort) held a worker thread and a pooled
# connection for as long as the database took. The longest statement of a maximal request
# measured here (a 1,000-event API batch of new people, days and tools: under 160 ms; an OTLP
# export of 8,192 new series: under 640 ms, on a shared 2-core machine at load average 9.5)
# fits 8 times over, and the 503 still comes before an OTLP exporter's own 10 s timeout, so it
# sees Retry-After rather than giving up itself. Slack's acknowledgements ask for less
# (`statement_limit`); work that may wait asks for it (`patient`). A URL's `options` naming
# statement_timeout wins, for all work alike. SQLite has no such limit; nothing changes there.
REQUEST_STATEMENT_TIMEOUT_MS = 5_000

WAIT_FOR_LOCKS = "SET LOCAL lock_timeout = 0"
# DEFAULT is the value before our SET: the URL's, the role's or the server's (none, unset).
AS_THE_DATABASE_SAYS = "SET LOCAL statement_timeout TO DEFAULT"
# `statement_limit(THE_DATABASES)`: statements run as long as the database's own settings let
# them, as a job's do, for reads whose one result many requests share.
THE_DATABASES = -1
_patient: ContextVar[bool] = ContextVar("aiusage_patient", default=False)
_statement_limit: ContextVar[int | None] = ContextVar("aiusage_statement_limit", default=None)


@contextmanager
def patient() -> Iterator[None]:
    """Transactions begun inside, in this thread (or a context copied from it), wait for
    locks as long as they are held, and run statements as long as the database's own
    settings let them: migrations, scheduled jobs, the command line."""
    token = _patient.set(True)
    try:
        yield
    finally:
        _patient.reset(token)


@contextmanager
def statement_limit(ms: int | None) -> Iterator[None]:
    """Transactions begun inside, in this thread, cut off each statement after `ms` on
    PostgreSQL (None: the connection's own, REQUEST_STATEMENT_TIMEOUT_MS; THE_DATABASES:
    the database's own settings'), unless `patient` or the URL says otherwise. For answers
    with a deadline shorter than a request's, and reads with none."""
    token = _statement_limit.set(ms)
    try:
        yield
    finally:
        _statement_limit.reset(token)


def make_engine(url: str, is_sqlite: bool) -> Engine:
    """The engine for `url`: on PostgreSQL with the timeouts above and COPY's staging kept
    in step; on SQLite in WAL mode, with its BEGINs sent by the listener below. Its errors
    never carry the statement's parameters (`hide_parameters`): people's emails, an
    integration's key hash, which a logged traceback would otherwise keep."""
    if not is_sqlite:
        given = make_url(url).query
        defaults = {k: v for k, v in POSTGRES_CONNECT_DEFAULTS.items() if k not in given}
        engine = create_engine(
            url, pool_pre_ping=True, pool_size=10, connect_args=defaults, hide_parameters=True
        )
        options = str(given.get("options", ""))
        server = {k: v for k, v in POSTGRES_SERVER_SILENCE.items() if k not in options}
        if "lock_timeout" not in options:
            server["lock_timeout"] = REQUEST_LOCK_TIMEOUT_MS
        if "idle_in_transaction_session_timeout" not in options:
            server["idle_in_transaction_session_timeout"] = IDLE_IN_TRANSACTION_TIMEOUT_MS
        limits_statements = "statement_timeout" not in options
        if limits_statements:
            server["statement_timeout"] = REQUEST_STATEMENT_TIMEOUT_MS

        @event.listens_for(engine, "connect")
        def _server_settings(dbapi_conn, _record) -> None:
            version = dbapi_conn.info.server_version
            settings = {k: v for k, v in server.items() if version >= _SINCE_VERSION.get(k, 0)}
            # Outside a transaction, or the pool's rollback would undo the SETs.
            autocommit, dbapi_conn.autocommit = dbapi_conn.autocommit, True
            with dbapi_conn.cursor() as cur:
                for name, value in settings.items():
                    try:
                        cur.execute(f"SET {name} = {int(value)}")
                    except dbapi_conn.Error:
                        # A server on a platform whose kernel cannot say a socket closed
                        # refuses the check; the connection still serves without it.
                        if name != "client_connection_check_interval":
                            raise
            dbapi_conn.autocommit = autocommit

        @event.listens_for(engine, "begin")
        def _limits_of_this_work(conn: Connection) -> None:
            if _patient.get():
                setting = f"{WAIT_FOR_LOCKS}; {AS_THE_DATABASE_SAYS}"
                if not limits_statements:
                    setting = WAIT_FOR_LOCKS
            elif (limit := _statement_limit.get()) is not None and limits_statements:
                setting = (
                    AS_THE_DATABASE_SAYS
                    if limit == THE_DATABASES
                    else f"SET LOCAL statement_timeout = {int(limit)}"
                )
            else:
                return
            # LOCAL: gone with the transaction, so the pooled connection goes back to the
            # next request with the request's timeouts. On the driver, which begins its
            # transaction with it, as SQLAlchemy's own execution would begin another.
            driver: Any = conn.connection.dbapi_connection
            try:
                driver.execute(setting)
            except conn.dialect.loaded_dbapi.Error as error:
                raise as_sqlalchemy(conn, error, setting) from error

        track_staging(engine)
        return engine

    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        hide_parameters=True,
        # SQLAlchemy's own five, and those the slash commands' readers keep checked out.
        pool_size=5 + READERS_KEPT,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can ask for IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=FULL")
        # Reads take pages straight from the OS's file cache, shared by every connection,
        # instead of copying each into the connection's own small cache: one person's
        # weeks for `me` are pages nobody else's `me` asked for, and read() per page cost
        # more than the query did. Pages read so count in the process's RSS as file-backed
        # memory (the OS's file cache, shared and reclaimable), so RSS grows toward the file's
        # size on a large database; a connector backfill, which touches most of the file,
        # turns the map off for its writes (storage/connectors.py).
        cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("aiusage_write")
        driver: Any = conn.connection.dbapi_connection
        if not immediate and driver.in_transaction:
            return  # a read inside `reading_together`, which began the transaction
        # On the driver's connection: through SQLAlchemy's execution path, BEGIN cost as
        # much as the read it opens (every slash command makes two or three). Outside
        # SQLAlchemy's error handling: "database is locked" is made its error here (a 503).
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        try:
            driver.execute(begin)
        except sqlite3.Error as error:
            raise as_sqlalchemy(conn, error, begin) from error

    return engine
