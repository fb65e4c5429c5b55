"""The database handle: one engine (`storage.engine`), with read and write transactions."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from importlib.resources import files
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from storage.days_zone import mismatch, recorded_zone, settle_zone
from storage.engine import THE_DATABASES, make_engine, patient, statement_limit
from storage.event_rows import LocalDays
from storage.lru import BoundedCache
from storage.readers import KeptReaders

# Tens of thousands of people's identities; each entry is well under a kilobyte.
IDENTITY_CACHE_SIZE = 50_000

# The newest migration (storage/migrations/versions), which `schema_is_current` compares the
# database with without loading alembic and every migration: a command that only reads or
# writes rows starts 9 MB lighter for it (a connector's sync peaks 7 MB lower). A test holds
# it to the migrations' head.
SCHEMA_HEAD = "0230_chartprint"

# What a database that cannot serve right now raises: the server refused or dropped the
# connection, no pooled connection came free in time, SQLite's file is locked or will not open,
# a lock PostgreSQL's rows or tables are held under was not let go in time (lock_timeout,
# SQLSTATE 55P03: `storage.engine.REQUEST_LOCK_TIMEOUT_MS`), a statement ran past its limit
# or was cancelled (SQLSTATE 57014: `storage.engine.REQUEST_STATEMENT_TIMEOUT_MS`, or an
# operator's pg_cancel_backend, which says so in its own words: "due to user request").
# A request that meets one is worth retrying once it is back; nothing of it was stored.
# So is PostgreSQL refusing every write as read-only (SQLSTATE 25006, which the driver calls
# an internal error): a standby, or a primary demoted in a failover while its name still
# points at it. `unavailable` tells which of these errors are that. PendingRollbackError is
# left out on purpose: it says code went on with a connection after an error without rolling
# back, a fault of the code that a retry would only repeat; the one place it met a lost
# connection, the staging listener in storage/bulk.py, no longer reads one.
UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sa_exc.InternalError,
)
READ_ONLY_SQLSTATE = "25006"

# The (dialect, driver) pairs this code speaks: storage is written per dialect
# (storage/bulk.py), and on PostgreSQL uses psycopg 3's own COPY and connection info, so
# psycopg2 (what `postgresql://` means before SQLAlchemy 2.1) or another database would fail
# at its first connection or write, with a traceback, long after start-up.
DRIVERS = (("sqlite", "pysqlite"), ("postgresql", "psycopg"))
URL_FORMS = "sqlite:///FILE or postgresql+psycopg://USER@HOST/DATABASE"
# Query parameters libpq reads a secret from.
SECRET_QUERY_PARAMETERS = ("password", "sslpassword")

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)


def unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot serve right now, so the same request is
    worth sending again later; not a fault of the request or of this code."""
    if isinstance(error, sa_exc.InternalError):
        return getattr(error.orig, "sqlstate", None) == READ_ONLY_SQLSTATE
    return isinstance(error, UNAVAILABLE)


class SchemaTooNew(Exception):
    """The database was migrated by a newer aiusage than this one."""


class _SharedRead(threading.local):
    conn: Connection | None = None


class Database:
    """Owns the engine and the time zone that local days are computed in."""

    def __init__(self, url: str, tz: ZoneInfo) -> None:
        self.url = make_url(url)
        self.tz = tz
        self.dialect = self.url.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        self.engine = make_engine(url, self.is_sqlite)
        # Events' local days, in the form their rows take (ISO text on SQLite).
        self.local_days = LocalDays(tz, date.isoformat if self.is_sqlite else _same_day)
        # Identity ids never change once made, so ingestion can skip looking them up. Bounded:
        # a stream of new identities must not grow memory without end.
        self.identity_ids: BoundedCache[tuple[str, str], int] = BoundedCache(IDENTITY_CACHE_SIZE)
        self.last_event_noted: BoundedCache[int, datetime] = BoundedCache(1024)
        # Who is forgotten changes rarely; another process's forget is noticed within
        # `storage.privacy_door.RECHECK`, which then empties the identity cache.
        self.privacy_generation: str | None = None
        self.privacy_checked_at: datetime | None = None
        # What the last `upgrade` did: the revisions it went from (None: an empty database)
        # and to, or None when there was nothing to do; for `db upgrade` to say so.
        self.migrated: tuple[str | None, str] | None = None
        self._shared = _SharedRead()
        self._readers = KeptReaders(self.engine)
        self._write_mutex: AbstractContextManager[object] = (
            threading.Lock() if self.is_sqlite else nullcontext()
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction; inside `reading_together` on this thread, that one."""
        shared = self._shared.conn
        if shared is not None:
            yield shared
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def reading_together(self) -> Iterator[None]:
        """Every `read` on this thread inside the block shares one transaction: one BEGIN,
        and on SQLite one snapshot (PostgreSQL reads committed data statement by statement).
        A slash command's two or three reads each cost a connection check-out and a
        transaction otherwise. Only for work that does not write."""
        if self._shared.conn is not None:
            yield
            return
        if not self.is_sqlite:
            with self.engine.connect() as conn, conn.begin():
                self._shared.conn = conn
                try:
                    yield
                finally:
                    self._shared.conn = None
            return
        conn = self._readers.take()
        clean = False
        try:
            # BEGIN and COMMIT straight on the driver: SQLAlchemy's transaction around them
            # cost a third of a `top`'s own work. A statement run through SQLAlchemy inside
            # still autobegins its transaction, which then joins this one (`storage.engine`).
            driver = conn.connection.dbapi_connection
            assert driver is not None
            driver.execute("BEGIN")
            self._shared.conn = conn
            try:
                yield
            finally:
                self._shared.conn = None
                if driver.in_transaction:
                    driver.execute("COMMIT")
            clean = True
        finally:
            self._readers.give_back(conn, clean)

    @contextmanager
    def shared_work(self) -> Iterator[None]:
        """Work whose result every request shares (a cached ranking, the org figures): its
        reads take transactions of their own, under the database's own statement limit (none
        unless the URL, role or server sets one) rather than a request's. Cut off at a
        request's limit, it would be begun again, and cut off, by every request after: at
        100,000 people one such sum can take seconds."""
        shared, self._shared.conn = self._shared.conn, None
        try:
            with statement_limit(THE_DATABASES):
                yield
        finally:
            self._shared.conn = shared

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it takes the write lock up front (BEGIN IMMEDIATE)
        so writers queue rather than fail on a lock upgrade; threads of this process queue
        on a mutex first, which wakes them at once where SQLite's busy handler would sleep."""
        # A write inside `reading_together` would not be seen by the reads after it.
        assert self._shared.conn is None, "a write inside reading_together"
        with self._write_mutex, self.engine.connect() as conn:
            conn.execution_options(aiusage_write=True)
            with conn.begin():
                yield conn

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def read_only(self) -> bool:
        """Whether the database refuses writes: a PostgreSQL standby, or one set read-only."""
        if self.is_sqlite:
            return False
        with self.engine.connect() as conn:
            return conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"

    def upgrade(self, *, change_zone: bool = False) -> str | None:
        """Apply every pending migration, one process at a time (replicas starting together
        take turns under an advisory lock on PostgreSQL); refuse a schema this code does not
        know, which a newer aiusage migrated, without touching it. Then hold the database to
        this process's zone (`storage.days_zone`): recorded the first time, ZoneMismatch
        when another is, or, with `change_zone`, put in its place (the old one returned)."""
        # Imported here: only `db upgrade` and `serve` migrate (see SCHEMA_HEAD).
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        # Patient: another replica may migrate for minutes, and a table an ALTER needs may be
        # in use; giving up would stop `serve` or `db upgrade` for no fault of theirs.
        with patient(), self.engine.begin() as conn:
            if not self.is_sqlite:
                # Held to the end of this transaction: a second replica waits, then finds the
                # schema current and has nothing left to do.
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(conn, "migrate")}
                )
            found = MigrationContext.configure(conn).get_current_revision()
            refuse_unknown({found} if found else set())
            command.upgrade(alembic_config(conn), "head")
            now_at = MigrationContext.configure(conn).get_current_revision()
            self.migrated = None if now_at is None or now_at == found else (found, now_at)
            if self.migrated:
                log.info("database migrated from %s to %s", found or "empty", now_at)
            return settle_zone(conn, self.tz.key, change=change_zone)

    def zone_problem(self) -> str | None:
        """Why this process must not count days in this database (another zone is recorded
        for them), or None. Reads only: a database never migrated has none recorded yet."""
        with self.engine.connect() as conn:
            recorded = recorded_zone(conn)
        return None if recorded in (None, self.tz.key) else mismatch(recorded, self.tz.key)

    def schema_is_current(self) -> bool:
        """Whether every migration has been applied; reads, never migrates."""
        with self.engine.connect() as conn:
            return schema_revisions(conn) == {SCHEMA_HEAD}

    def refuse_newer_schema(self) -> None:
        """Raise SchemaTooNew when a newer aiusage migrated the database; reads only. Asked
        only of a schema that is not current, since it loads alembic and every migration."""
        with self.engine.connect() as conn:
            refuse_unknown(schema_revisions(conn))

    def dispose(self) -> None:
        self._readers.close()
        self.engine.dispose()


def lock_key(conn: Connection, purpose: str) -> int:
    """A 63-bit PostgreSQL advisory lock key for `purpose` in the connection's current schema
    (so test schemas side by side never wait on each other)."""
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    digest = hashlib.blake2b(f"aiusage:{schema}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def url_passwords(url: str) -> tuple[str, ...]:
    """Every password in a database URL: after the user name, or as a query parameter, which
    libpq takes as well (so the logs can scrub them)."""
    try:
        parsed = make_url(url)
    except Exception:
        return ()
    found = [parsed.password] if parsed.password else []
    for name in SECRET_QUERY_PARAMETERS:
        given = parsed.query.get(name, ())
        found += [given] if isinstance(given, str) else list(given)
    return tuple(str(value) for value in found if value)


def display_url(url: URL | str) -> str:
    """The URL to show a person, every password in it masked."""
    url = make_url(url)
    secret = [name for name in SECRET_QUERY_PARAMETERS if name in url.query]
    shown = url.difference_update_query(secret).render_as_string(hide_password=True)
    # Appended by hand: rendered, a query value's *** would be escaped to %2A%2A%2A.
    masked = "&".join(f"{name}=***" for name in secret)
    return f"{shown}{'&' if '?' in shown else '?'}{masked}" if masked else shown


def check_database_url(url: str) -> None:
    """Raise ValueError unless `url` names a database this code is written for: SQLite, or
    PostgreSQL through psycopg 3. The message never repeats the URL, which may hold a
    password."""
    try:
        parsed = make_url(url)
    except Exception:  # ArgumentError; ValueError for a port that is no number
        raise ValueError(f"not a database URL; expected {URL_FORMS}") from None
    try:
        spoken = (parsed.get_backend_name(), parsed.get_driver_name())
    except sa_exc.NoSuchModuleError:  # a dialect SQLAlchemy does not know
        spoken = None
    if spoken not in DRIVERS:
        raise ValueError(f"{parsed.drivername}:// is not supported; expected {URL_FORMS}")
    if spoken == ("postgresql", "psycopg"):
        _check_libpq_options(parsed)
    elif _in_memory(parsed):
        # Each connection would have a database of its own: migrations ran on one, and
        # `serve` answered 503 and 500 for ever from the others ("no such table").
        raise ValueError(
            f"an in-memory SQLite database is gone with its connection; expected {URL_FORMS}"
        )


def _in_memory(url: URL) -> bool:
    """Whether a SQLite URL names no file: `sqlite://`, `:memory:`, or a `mode=memory` URI."""
    database = url.database or ""
    return (
        database in ("", ":memory:")
        or url.query.get("mode") == "memory"
        or (database.startswith("file:") and ("mode=memory" in database or ":memory:" in database))
    )


def _check_libpq_options(url: URL) -> None:
    """libpq's own parser on the URL's options: a misspelt one is a setting to name now, not
    a traceback at the first connection. Its message names the option, never a value."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import make_conninfo
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    _, options = PGDialect_psycopg().create_connect_args(url)
    try:
        make_conninfo("", **options)
    except ProgrammingError as error:
        raise ValueError(str(error).strip().splitlines()[0]) from None


def database_error(error: BaseException) -> bool:
    """Whether `error` is the database's own (any error the driver raised, as SQLAlchemy
    raises it): a permission denied, a constraint, a missing table. One line naming it
    tells an operator more than a traceback through SQLAlchemy, and shows no statement."""
    return isinstance(error, sa_exc.DBAPIError)


def database_reason(error: BaseException) -> str:
    """The first line of what the driver said about a database error (the SQL and
    parameters SQLAlchemy appends are left out)."""
    cause = getattr(error, "orig", None) or error
    said = str(cause).strip()
    return said.splitlines()[0] if said else type(cause).__name__


def schema_revisions(conn: Connection) -> set[str]:
    """The revisions alembic recorded the database at; none for an empty database."""
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def refuse_unknown(revisions: set[str]) -> None:
    """Raise SchemaTooNew for a revision none of this code's migrations has: a newer aiusage
    recorded it, so `db upgrade` cannot help and only the newer code can run."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    scripts = ScriptDirectory.from_config(alembic_config())
    for revision in sorted(revisions):
        try:
            scripts.get_revision(revision)
        except CommandError:
            raise SchemaTooNew(
                f"the database schema is at revision {revision!r}, newer than this aiusage "
                f"knows (its newest is {scripts.get_current_head()!r}); run the newer aiusage"
            ) from None


def alembic_config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("storage") / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def _same_day(day: date) -> date:
    return day
