"""Connector state (last success, last error, last day fetched), Copilot's team memberships,
and the writer that stores fetched days."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from contextlib import ExitStack
from datetime import date, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from storage.db import IDENTITY_CACHE_SIZE, Database
from storage.engine import SQLITE_MMAP_BYTES
from storage.events import identity_ids
from storage.imports import (
    ReplacedKey,
    keys_of,
    replace_in,
    replace_report_days,
    upsert_deferred,
)
from storage.models import ConnectorStateRow, CopilotTeamRow
from storage.people import IdentityKey, resolve_identities
from storage.privacy import forgotten_keys
from storage.privacy_door import notice_forgets
from storage.records import ConnectorState, ReportDay
from storage.report_rows import PreparedDays

MAX_ERROR_CHARS = 1000
# On SQLite, fetched days share a transaction, up to this many days or this long (the write
# lock is held meanwhile; other writers wait at most about that long). Each day adds a row to
# every person's part of the rollup's unique index, so a day alone dirties thousands of index
# pages; a week of days writes each of them once instead of seven times.
GROUP_DAYS = 7
GROUP_SECONDS = 2.0
# The page cache of the group's connection. The group's rows go in at its commit in index
# order, one pass through each person's part of the rollup's index, so a small cache serves
# as well as a large one (4 MB and 64 MB took the same time in a bare loop over 150 days);
# the memory goes to the group's rows instead. Back to the default at each commit, so no
# pooled connection keeps it.
GROUP_CACHE_KIB = 4 * 1024
# The group's connection reads through that cache, not the file's memory map: a backfill reads
# most of the rollup's index pages, and every mapped page it touches stays in the process's
# resident memory (60 days of 5,000 people: 320 MB with the map, 175 MB without, no slower).


def connector_states(db: Database) -> dict[str, ConnectorState]:
    """Every connector that has run, by name."""
    with db.read() as conn:
        rows = conn.execute(select(ConnectorStateRow.__table__)).all()
        return {
            row.name: ConnectorState(
                name=row.name,
                last_day=row.last_day,
                last_success_at=row.last_success_at,
                last_attempt_at=row.last_attempt_at,
                last_error=row.last_error,
                last_error_at=row.last_error_at,
                rows_last_sync=row.rows_last_sync,
            )
            for row in rows
        }


def _ensure(conn: Connection, name: str) -> None:
    exists = conn.execute(
        select(ConnectorStateRow.name).where(ConnectorStateRow.name == name)
    ).first()
    if exists is None:
        conn.execute(insert(ConnectorStateRow).values(name=name, rows_last_sync=0))


def record_day_done(db: Database, name: str, day: date, now: datetime) -> None:
    """A day was fetched and stored in full; `last_day` only moves forward, so a backfill of
    old days does not make the next scheduled pull start over from them."""
    with db.write() as conn:
        _day_done(conn, name, day, now)


def _day_done(conn: Connection, name: str, day: date, now: datetime) -> None:
    _ensure(conn, name)
    conn.execute(
        update(ConnectorStateRow)
        .where(ConnectorStateRow.name == name)
        .where((ConnectorStateRow.last_day.is_(None)) | (ConnectorStateRow.last_day < day))
        .values(last_day=day)
    )
    conn.execute(
        update(ConnectorStateRow).where(ConnectorStateRow.name == name).values(last_attempt_at=now)
    )


def record_success(db: Database, name: str, rows: int, now: datetime) -> None:
    with db.write() as conn:
        _ensure(conn, name)
        conn.execute(
            update(ConnectorStateRow)
            .where(ConnectorStateRow.name == name)
            .values(last_success_at=now, last_attempt_at=now, rows_last_sync=rows)
        )


def record_failure(db: Database, name: str, error: str, now: datetime) -> None:
    """Keep the error (already free of secrets) to show in `connectors list` and status."""
    with db.write() as conn:
        _ensure(conn, name)
        conn.execute(
            update(ConnectorStateRow)
            .where(ConnectorStateRow.name == name)
            .values(last_error=error[:MAX_ERROR_CHARS], last_error_at=now, last_attempt_at=now)
        )


def replace_copilot_teams(db: Database, day: date, members: Iterable[tuple[str, str]]) -> bool:
    """Make `members` ((team, login) pairs of Copilot's user-teams report for `day`) the
    current memberships, unless a newer day is already stored. Returns whether it did."""
    with db.write() as conn:
        return _replace_teams(conn, day, members)


def _replace_teams(conn: Connection, day: date, members: Iterable[tuple[str, str]]) -> bool:
    pairs = sorted(set(members))
    newest = conn.execute(select(func.max(CopilotTeamRow.day))).scalar()
    if newest is not None and newest > day:
        return False
    # A forgotten person's login is dropped here, as their usage is at every door.
    gone = forgotten_keys(conn, [("copilot", login.lower()) for _, login in pairs])
    pairs = [(team, login) for team, login in pairs if ("copilot", login.lower()) not in gone]
    conn.execute(delete(CopilotTeamRow))
    if pairs:
        conn.execute(
            insert(CopilotTeamRow),
            [{"day": day, "team": team, "login": login} for team, login in pairs],
        )
    return True


def copilot_teams(db: Database) -> dict[str, list[str]]:
    """Copilot's current team memberships: team name to the GitHub logins in it, sorted.
    For the org view, a login is the identity `copilot:<login>` that `people link` takes."""
    with db.read() as conn:
        rows = conn.execute(
            select(CopilotTeamRow.team, CopilotTeamRow.login).order_by(
                CopilotTeamRow.team, CopilotTeamRow.login
            )
        ).all()
    teams: dict[str, list[str]] = {}
    for team, login in rows:
        teams.setdefault(team, []).append(login)
    return teams


class DayWriter:
    """Stores one connector's fetched days. On SQLite several days share a transaction (see
    GROUP_DAYS); a day is recorded as fetched in the transaction that holds its rows, so a
    kill leaves each day either stored and recorded or to be fetched again. On PostgreSQL
    every chunk and every record is a transaction of its own, as before. Leaving the `with`
    block commits the days done, unless a day is half written. Prepared days' rows are
    written together just before the group commits (`storage.imports.upsert_deferred`)."""

    def __init__(self, db: Database, name: str) -> None:
        self.db, self.name = db, name
        # PostgreSQL has no single write lock to keep forgets out of a group: a forget
        # meanwhile would fail the whole group, whose days are no longer at hand to retry.
        self.grouped = db.is_sqlite
        self._stack: ExitStack | None = None
        self._conn: Connection | None = None
        self._opened = 0.0
        self._days = 0
        self._half_written = False
        self._done: tuple[date, datetime] | None = None  # the group's last day, and when
        # Identities looked up by this sync, valid for the privacy generation they were
        # looked up in (a forget empties the shared cache and starts a new generation).
        self._ids: dict[IdentityKey, int] = {}
        self._ids_generation = db.privacy_generation
        # Rows of the group's prepared days not written yet, and those days.
        self._deferred: list[list[tuple[Any, ...]]] = []
        self._deferred_days: set[date] = set()

    def __enter__(self) -> DayWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is not None and self._half_written:
            self._end(kind, error, trace)  # rolls back: the day is fetched again next run
        else:
            self.commit()

    def write(
        self,
        chunk: Sequence[ReportDay] | PreparedDays,
        replaced: set[ReplacedKey],
        now: datetime,
        whole_days: Collection[date],
        *,
        add_up: bool = False,
    ) -> list[int]:
        """A chunk of a day (or days) the connector holds complete, or those days' rows as the
        connector prepared them; see `replace_report_days`. Returns the lines of records that
        repeated a key met before (with `add_up`, those of days not held whole only)."""
        if not self.grouped:
            return replace_report_days(
                self.db,
                self.name,
                None,
                chunk,
                replaced,
                now,
                whole_days=whole_days,
                add_up=add_up,
            )
        if not chunk and not whole_days:
            return []
        keys = keys_of(chunk)
        if self._conn is None:
            identities = identity_ids(self.db, keys, now)
            self._open(now)
            if self._conn is None:  # someone was forgotten meanwhile: look them up again
                identities = identity_ids(self.db, keys, now)
                self._open(now, recheck=False)
            self._remember(identities)
        else:
            identities = self._known(keys)
            if len(identities) < len(keys):
                identities.update(self._made_here(keys - identities.keys(), now))
        assert self._conn is not None
        self._half_written = True
        deferred: list[list[tuple[Any, ...]]] | None = None
        if isinstance(chunk, PreparedDays) and self._deferred_days.isdisjoint(chunk.days):
            deferred = self._deferred
            self._deferred_days.update(chunk.days)
        else:
            # A day cleared again, or cleared person by person: the rows before it go first.
            self._write_deferred()
        # `replaced` changes only with the transaction: a rolled-back chunk leaves it as it was.
        cleared = set(replaced)
        repeated = replace_in(
            self._conn,
            self.name,
            None,
            chunk,
            identities,
            cleared,
            whole_days,
            deferred=deferred,
            add_up=add_up,
        )
        replaced.update(cleared)
        return repeated

    def _known(self, keys: set[IdentityKey]) -> dict[IdentityKey, int]:
        """The ids of `keys` this sync has already looked up, while no forget has emptied the
        shared identity cache since (a day of a large org names the same people as the day
        before: dict look-ups, not the shared cache's lock and recency bookkeeping)."""
        if self.db.privacy_generation != self._ids_generation:
            self._ids.clear()
            return {}
        ids = self._ids
        return {key: ids[key] for key in keys if key in ids}

    def _made_here(self, keys: set[IdentityKey], now: datetime) -> dict[IdentityKey, int]:
        """Ids for `keys`, new ones made in the group's own transaction: committing to make
        them elsewhere would commit a day half written (a day past one chunk names people
        its first chunk did not). The group holds the write lock, so no forget lands
        meanwhile; they reach no shared cache, as a rollback takes them back."""
        assert self._conn is not None
        found = resolve_identities(self._conn, keys - forgotten_keys(self._conn, keys), now)
        self._remember(found)
        return found

    def _remember(self, identities: dict[IdentityKey, int]) -> None:
        if self.db.privacy_generation != self._ids_generation:
            self._ids.clear()
            self._ids_generation = self.db.privacy_generation
        if len(self._ids) + len(identities) > IDENTITY_CACHE_SIZE:
            self._ids.clear()  # bounded like the shared cache
        self._ids.update(identities)

    def day_done(self, day: date, now: datetime) -> None:
        """Every chunk of the days up to `day` is written: record it with them."""
        if not self.grouped:
            record_day_done(self.db, self.name, day, now)
            return
        if self._conn is None:
            self._open(now, recheck=False)
        # Recorded once, at the group's commit: `last_day` only moves forward.
        self._done = (max(day, self._done[0]) if self._done else day, now)
        self._half_written = False
        self._days += 1
        if self._days >= GROUP_DAYS or time.monotonic() - self._opened >= GROUP_SECONDS:
            self.commit()

    def teams(self, day: date, members: Iterable[tuple[str, str]]) -> None:
        """Copilot's team memberships on `day`, with the days around them."""
        if self._conn is None:
            replace_copilot_teams(self.db, day, members)
        else:
            _replace_teams(self._conn, day, members)

    def commit(self) -> None:
        """Commit what the open transaction holds, if any; before the connector waits."""
        if self._half_written:
            raise RuntimeError("a day is half written; finish it with day_done first")
        try:
            self._write_deferred()
            if self._conn is not None and self._done is not None:
                _day_done(self._conn, self.name, *self._done)
        except BaseException as exc:
            self._end(type(exc), exc, exc.__traceback__)  # rolls back: fetched again next run
            raise
        self._end(None, None, None)

    def _write_deferred(self) -> None:
        if self._deferred:
            assert self._conn is not None
            upsert_deferred(self._conn, self._deferred, self._deferred_days)
        self._deferred_days.clear()

    def _open(self, now: datetime, *, recheck: bool = True) -> None:
        """Begin a group under the write lock, which keeps every forget out until it commits;
        with `recheck`, unless a forget landed since the identities were looked up, which
        emptied their cache (then nothing is opened)."""
        stack = ExitStack()
        conn = stack.enter_context(self.db.write())
        try:
            if recheck and notice_forgets(self.db, now, force=True):
                stack.close()
                return
            if not recheck:
                # Unchecked for forgets since this sync's look-ups: only fresh ones count.
                self._ids.clear()
            conn.exec_driver_sql(f"PRAGMA cache_size=-{GROUP_CACHE_KIB}")
            conn.exec_driver_sql("PRAGMA mmap_size=0")
        except BaseException:
            stack.close()
            raise
        self._stack, self._conn = stack, conn
        self._opened, self._days = time.monotonic(), 0

    def _end(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        stack, conn = self._stack, self._conn
        self._stack = self._conn = None
        self._half_written, self._done = False, None
        if error is not None:
            self._ids.clear()  # some may have been made in the transaction rolled back
        self._deferred.clear()
        self._deferred_days.clear()
        if stack is None or conn is None:
            return
        try:
            conn.exec_driver_sql(f"PRAGMA cache_size={_DEFAULT_CACHE}")
            conn.exec_driver_sql(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        finally:
            stack.__exit__(kind, error, trace)


_DEFAULT_CACHE = -2000  # SQLite's default: 2,000 KiB
