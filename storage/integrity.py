"""Integrity flags (admins only) and the event timings they are computed from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import cast

from sqlalchemy import delete, func, or_, select, tuple_

from storage.counted_daily import counted_daily
from storage.db import Database
from storage.dialect import insert
from storage.models import DailyRow, EventRow, IdentityRow, IntegrityFlagRow
from storage.person_writes import standing_people
from storage.records import IntegrityFlag

STREAM_ROWS = 5000  # rows fetched at a time by `event_moments`


def shipped_days(db: Database, start: date, end: date) -> dict[int, list[int]]:
    """Per linked person, the commits plus pull requests of each local day start..end that
    reported any, in day order; counted as every read counts them (`storage.precedence`)."""
    # Rows without shipped work carry neither figure, so leaving them out changes nobody's
    # precedence for these two, and keeps the read to the few rows that have any.
    counted = counted_daily(
        [
            DailyRow.day.between(start, end),
            IdentityRow.person_id.is_not(None),
            or_(DailyRow.commits.is_not(None), DailyRow.pull_requests.is_not(None)),
        ]
    )
    shipped = func.sum(
        func.coalesce(counted.c.commits, 0) + func.coalesce(counted.c.pull_requests, 0)
    )
    stmt = (
        select(counted.c.person_id, counted.c.day, shipped)
        .group_by(counted.c.person_id, counted.c.day)
        .order_by(counted.c.person_id, counted.c.day)
    )
    found: dict[int, list[int]] = {}
    with db.read() as conn:
        for person_id, _day, count in conn.execute(stmt):
            if count:
                found.setdefault(person_id, []).append(int(count))
    return found


def event_moments(
    db: Database, start: datetime, end: datetime
) -> Iterator[tuple[int, datetime, int]]:
    """Each linked person's events in [start, end) as (person, moment, requests), in person
    and time order. Rows stream from the database (a server-side cursor on PostgreSQL) and
    nothing here holds them: the live board judges integrity every few seconds, a busy
    week's raw events are hundreds of megabytes, and one person's can be most of them."""
    stmt = (
        select(IdentityRow.person_id, EventRow.occurred_at, EventRow.requests)
        .join(IdentityRow, IdentityRow.id == EventRow.identity_id)
        .where(
            EventRow.occurred_at >= start,
            EventRow.occurred_at < end,
            IdentityRow.person_id.is_not(None),
        )
        .order_by(IdentityRow.person_id, EventRow.occurred_at, EventRow.id)
    )
    with db.read() as conn:
        rows = conn.execution_options(yield_per=STREAM_ROWS).execute(stmt)
        for person_id, occurred_at, requests in rows:
            yield cast(int, person_id), occurred_at, requests


def replace_flags(
    db: Database, week_start: date, flags: Sequence[IntegrityFlag], now: datetime
) -> None:
    """Make `flags` the week's flags, dropping any earlier computation's. Upserts rather
    than delete-and-insert, so two computations running at once cannot collide. Someone
    forgotten since their week was read is left out, as they would have been before."""
    with db.write() as conn:
        if flags:
            standing = standing_people(conn, [flag.person_id for flag in flags])
            flags = [flag for flag in flags if flag.person_id in standing]
        keep = [(flag.person_id, flag.signal) for flag in flags]
        stale = delete(IntegrityFlagRow).where(IntegrityFlagRow.week_start == week_start)
        if keep:
            stale = stale.where(
                tuple_(IntegrityFlagRow.person_id, IntegrityFlagRow.signal).not_in(keep)
            )
        conn.execute(stale)
        if not flags:
            return
        stmt = insert(conn, IntegrityFlagRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["person_id", "week_start", "signal"],
            set_={"detail": stmt.excluded.detail, "computed_at": stmt.excluded.computed_at},
        )
        conn.execute(
            stmt,
            [
                {
                    "person_id": flag.person_id,
                    "week_start": week_start,
                    "signal": flag.signal,
                    "detail": flag.detail[:500],
                    "computed_at": now,
                }
                for flag in flags
            ],
        )


def week_flags(db: Database, week_start: date) -> list[IntegrityFlag]:
    """The stored flags of a week, by person and signal."""
    with db.read() as conn:
        rows = conn.execute(
            select(IntegrityFlagRow)
            .where(IntegrityFlagRow.week_start == week_start)
            .order_by(IntegrityFlagRow.person_id, IntegrityFlagRow.signal)
        )
        return [
            IntegrityFlag(
                person_id=row.person_id,
                week_start=row.week_start,
                signal=row.signal,
                detail=row.detail,
            )
            for row in rows
        ]
