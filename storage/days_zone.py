"""The zone a database's local days are counted in, recorded when it is first migrated.

Rollups, awards and weeks are stored by local day. A process set to another
`AIUSAGE_TIMEZONE` (one replica deployed with a different value, or a value changed on a
whim) would cut the same moments into other days beside them, and no figure would say so.
So the first migration records the zone, and a process set to another refuses to run.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from storage.dialect import insert_ignore
from storage.models import MetaRow

DAYS_ZONE_KEY = "days_zone"


class ZoneMismatch(Exception):
    """This process's zone is not the one the database's days are counted in."""


def mismatch(recorded: str, zone: str) -> str:
    """The one line a process set to `zone` says about a database counted in `recorded`."""
    return (
        f"AIUSAGE_TIMEZONE is {zone}, but this database counts its days in {recorded}; "
        f"set AIUSAGE_TIMEZONE={recorded}, or, to count new days in {zone}, stop every "
        "aiusage process and run `aiusage db upgrade --change-timezone` once (days already "
        "counted keep their dates)"
    )


def recorded_zone(conn: Connection) -> str | None:
    """The zone recorded for the database's days, or None before its first migration."""
    return conn.scalar(select(MetaRow.value).where(MetaRow.key == DAYS_ZONE_KEY))


def settle_zone(conn: Connection, zone: str, *, change: bool = False) -> str | None:
    """Inside the migration's transaction: record `zone` when none is; with `change`, put
    it in place of another and return that one. Otherwise raise ZoneMismatch. Read first,
    and written only when it must be: INSERT … ON CONFLICT DO NOTHING needs the INSERT
    privilege even when the row is there, so a role that may only read could not upgrade
    a database already current (which has nothing to do)."""
    recorded = recorded_zone(conn)
    if recorded is None:  # ignored if another process recorded one since (SQLite)
        conn.execute(insert_ignore(conn, MetaRow).values(key=DAYS_ZONE_KEY, value=zone))
        recorded = recorded_zone(conn)
    if recorded is None or recorded == zone:
        return None
    if not change:
        raise ZoneMismatch(mismatch(recorded, zone))
    conn.execute(update(MetaRow).where(MetaRow.key == DAYS_ZONE_KEY).values(value=zone))
    return recorded
