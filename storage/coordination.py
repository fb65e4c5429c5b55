"""Several `serve` processes on one database: one serving process on SQLite, and each
scheduled job's due time claimed by one replica (migrations under a lock, and the refusal of a
schema newer than the code, are in `Database.upgrade`).

On PostgreSQL, locks are advisory locks keyed by purpose and schema (so test schemas side by
side never wait on each other). A job's claim is a `job_runs` row, held while the job runs by a
session lock that PostgreSQL releases when its holder dies: a replica that finds a claim
unfinished and its lock free takes the due time over.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.engine import make_url

from storage.db import Database, lock_key, schema_revisions
from storage.engine import patient
from storage.post_models import JobRunRow
from storage.report_rows import report_origin

log = logging.getLogger(__name__)


class CannotServe(Exception):
    """This process may not serve this SQLite database."""


class AlreadyServing(CannotServe):
    """Another process serves this SQLite database."""


def current_revision(db: Database) -> str | None:
    """The schema revision the database is at (None when empty)."""
    with db.engine.connect() as conn:
        revisions = schema_revisions(conn)
    return revisions.pop() if len(revisions) == 1 else None


@contextmanager
def single_server(database_url: str) -> Iterator[None]:
    """On SQLite, hold a lock file beside the database while serving; a second serving
    process is refused. On PostgreSQL, any number may serve. Taken before migrating, so a
    second process never migrates under the first."""
    url = make_url(database_url)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        yield
        return
    # Beside the file the path leads to: a lock beside a symlink to it was a lock of its own,
    # and a second serve through the link ran beside the first. SQLite follows symlinks to
    # name its WAL the same way. (Hard links it cannot tell apart: each name gets a WAL of
    # its own, which is why SQLite's documentation warns against them.)
    lock_path = Path(f"{os.path.realpath(path)}.serve.lock")
    try:
        handle: IO[str] = lock_path.open("a+")
    except OSError as exc:
        # Where the lock file cannot be made, SQLite could not open the database either.
        raise CannotServe(
            f"database unavailable: cannot open {lock_path}: {exc.strerror}"
        ) from None
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


@contextmanager
def one_writer_of_report(
    db: Database, source: str, integration: str | None, on_wait: Callable[[], None]
) -> Iterator[None]:
    """Hold the right to write `source`'s report (through `integration`) until the block
    ends, waiting for any other import or connector sync of it to finish first (`on_wait`
    is called before waiting). A report is written in several transactions, each clearing
    what it replaces and adding the rest; on PostgreSQL two writers at once each cleared
    before the other wrote, then added to the other's rows: figures summed twice. SQLite
    takes one writer at a time and needs nothing more. A session lock: it outlives the
    writes' transactions, and goes with the process if that dies."""
    if db.is_sqlite:
        yield
        return
    with db.engine.connect() as conn:
        key = lock_key(conn, f"report:{report_origin(source, integration, None)}")
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
        conn.commit()
        if not got:
            on_wait()
            with patient(), conn.begin():  # as long as the other writer takes
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
