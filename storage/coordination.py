"""Several `serve` processes on one database: migrations under a lock, a refusal when the
schema is newer than the code, one serving process on SQLite, and each scheduled job's due
time claimed by one replica.

On PostgreSQL, locks are advisory locks keyed by purpose and schema (so test schemas side by
side never wait on each other). A job's claim is a `job_runs` row, held while the job runs by a
session lock that PostgreSQL releases when its holder dies: a replica that finds a claim
unfinished and its lock free takes the due time over.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, insert, select, text, update

from storage.db import Database, alembic_config
from storage.models import JobRunRow

log = logging.getLogger(__name__)


class SchemaTooNew(Exception):
    """The database was migrated by a newer aiusage than this one."""


class AlreadyServing(Exception):
    """Another process serves this SQLite database."""


def lock_key(conn: Connection, purpose: str) -> int:
    """A 63-bit advisory lock key for `purpose` in the connection's current schema."""
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    digest = hashlib.blake2b(f"aiusage:{schema}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrations_current(db: Database) -> bool:
    return current_revision(db) == head_revision()


def upgrade(db: Database) -> None:
    """Apply pending migrations, one process at a time; refuse a schema this code does not
    know (a newer aiusage migrated it)."""
    with db.engine.begin() as conn:
        if not db.is_sqlite:
            # Held to the end of this transaction: a second replica waits, then finds the
            # schema current and has nothing left to do.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(conn, "migrate")})
        found = MigrationContext.configure(conn).get_current_revision()
        if found is not None:
            try:
                ScriptDirectory.from_config(alembic_config()).get_revision(found)
            except CommandError:
                raise SchemaTooNew(
                    f"the database schema is at revision {found!r}, newer than this aiusage "
                    f"knows (its newest is {head_revision()!r}); run the newer aiusage"
                ) from None
        command.upgrade(alembic_config(conn), "head")
        now_at = MigrationContext.configure(conn).get_current_revision()
        if now_at != found:
            log.info("database migrated from %s to %s", found or "empty", now_at)


@contextmanager
def single_server(db: Database) -> Iterator[None]:
    """On SQLite, hold a lock file beside the database while serving; a second serving
    process is refused. On PostgreSQL, any number may serve."""
    path = db.url.database
    if not db.is_sqlite or not path or path == ":memory:":
        yield
        return
    lock_path = Path(f"{path}.serve.lock")
    handle: IO[str] = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyServing(
                f"another aiusage serve is already using {path}; SQLite takes one serving "
                "process (use PostgreSQL for several)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock, as does the process dying


@contextmanager
def claim_job(
    db: Database, job: str, due_at: datetime, holder: str, now: datetime
) -> Iterator[bool]:
    """Claim `job`'s run for `due_at`: yields True to the one replica that should run it
    (and records it finished afterwards), False to every other."""
    with db.engine.connect() as conn:
        conn.execution_options(aiusage_write=True)
        key = None
        if not db.is_sqlite:
            key = lock_key(conn, f"job:{job}")
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
            conn.commit()
            if not got:  # another replica is running this job right now
                yield False
                return
        try:
            claimed = _claim(conn, job, due_at, holder, now)
            yield claimed
            if claimed:
                with conn.begin():
                    conn.execute(
                        update(JobRunRow)
                        .where(JobRunRow.job == job, JobRunRow.due_at == due_at)
                        .values(finished_at=datetime.now(UTC))
                    )
        finally:
            if key is not None:
                if conn.in_transaction():
                    conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


def _claim(conn: Connection, job: str, due_at: datetime, holder: str, now: datetime) -> bool:
    with conn.begin():
        row = conn.execute(
            select(JobRunRow.holder, JobRunRow.finished_at).where(
                JobRunRow.job == job, JobRunRow.due_at == due_at
            )
        ).first()
        if row is None:
            conn.execute(
                insert(JobRunRow).values(job=job, due_at=due_at, holder=holder, started_at=now)
            )
            return True
        if row.finished_at is not None:
            return False
        # Unfinished, and we hold the job's lock: its holder died mid-run. Take it over.
        log.warning("job %s due %s: taking over from %s, which stopped", job, due_at, row.holder)
        conn.execute(
            update(JobRunRow)
            .where(JobRunRow.job == job, JobRunRow.due_at == due_at)
            .values(holder=holder, started_at=now)
        )
        return True
