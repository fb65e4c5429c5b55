"""Raw events by month on PostgreSQL: `usage_events` is partitioned by the event's local day,
one partition a month plus a default one for any day no month covers yet, so that retention
drops a past month whole instead of deleting it row by row. SQLite keeps one plain table, and
everything here does nothing there.

Names follow `usage_events_yYYYYmMM`; a partition with another name is never touched.
"""

from __future__ import annotations

import logging
import re
from datetime import date

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from storage.db import Database

log = logging.getLogger(__name__)

# Month partitions made ahead of time, so the default partition stays nearly empty.
MONTHS_AHEAD = 2
DEFAULT_PARTITION = "usage_events_default"
# Dropping a partition needs a brief exclusive lock on `usage_events`; rather than queue
# ingestion behind a long report, give up and let the batched delete do that month.
DROP_LOCK_TIMEOUT = "5s"
_NAME = re.compile(r"^usage_events_y(\d{4})m(\d{2})$")


def partition_name(month: date) -> str:
    """The partition holding the days of `month` (any day of it)."""
    return f"usage_events_y{month.year:04d}m{month.month:02d}"


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_partitions(conn: Connection) -> dict[date, str]:
    """The month partitions of `usage_events` in this schema, by the month's first day."""
    names = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'usage_events'::regclass"
        )
    ).scalars()
    found = {}
    for name in names:
        match = _NAME.match(name)
        if match:
            found[date(int(match[1]), int(match[2]), 1)] = name
    return found


def ensure_month_partitions(db: Database, today: date, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Make the partitions for `today`'s month and `ahead` more, moving any of their days
    that landed in the default partition meanwhile; returns the names made."""
    if db.is_sqlite:
        return []
    months = [today.replace(day=1)]
    for _ in range(ahead):
        months.append(next_month(months[-1]))
    with db.read() as conn:
        existing = month_partitions(conn)
    made = []
    for month in months:
        if month not in existing:
            with db.write() as conn:
                if not _make_partition(conn, month):
                    continue
            made.append(partition_name(month))
    if made:
        log.info("made raw event partitions %s", ", ".join(made))
    return made


def _make_partition(conn: Connection, month: date) -> bool:
    """Make `month`'s partition; False when another process made it first (the daily run
    and `aiusage db prune` at once: both wait on the lock below, and each looked before)."""
    name, end = partition_name(month), next_month(month)
    # Writes to the default partition wait until the month's rows have moved out of it.
    conn.execute(text(f"LOCK TABLE {DEFAULT_PARTITION} IN SHARE ROW EXCLUSIVE MODE"))
    if month in month_partitions(conn):
        return False
    conn.execute(text(f"CREATE TABLE {name} (LIKE usage_events INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
            "WHERE day >= :start AND day < :end RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        {"start": month, "end": end},
    )
    conn.execute(
        text(
            f"ALTER TABLE usage_events ATTACH PARTITION {name} "
            f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
        )
    )
    return True


def drop_months_before(db: Database, cutoff: date) -> int:
    """Drop every month partition whose days all fall before `cutoff`; returns how many
    events they held. A month that cannot be locked in time is left to the batched delete."""
    if db.is_sqlite:
        return 0
    with db.read() as conn:
        months = month_partitions(conn)
    dropped = 0
    for month, name in sorted(months.items()):
        if next_month(month) > cutoff:
            continue
        try:
            with db.write() as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
                held = conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                conn.execute(text(f"DROP TABLE {name}"))
        except DBAPIError:
            log.warning("raw event partition %s is busy; its rows go by batched delete", name)
            continue
        log.info("dropped raw event partition %s (%d events)", name, held)
        dropped += held
    return dropped
