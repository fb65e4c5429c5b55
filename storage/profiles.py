"""What Slack told us of its users, kept on their person row: name, zone, admin and guest
flags, and whether they left the leaderboard. Every slash command reads it first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, bindparam, select, update

from storage.compiled import CompiledRead
from storage.db import Database
from storage.models import PersonRow
from storage.people import ensure_person
from storage.person_writes import changed, write_for_person
from storage.records import Profile


def slack_profile(db: Database, slack_user_id: str, now: datetime) -> Profile:
    """The person behind a Slack user, created on first sight, with what we know of them."""
    with db.write() as conn:
        person_id = ensure_person(conn, slack_user_id, now)
        row = conn.execute(select(PersonRow).where(PersonRow.id == person_id)).one()
    return _profile(row)


def save_slack_profile(
    db: Database,
    slack_user_id: str,
    *,
    display_name: str | None,
    tz: str | None,
    is_workspace_admin: bool,
    now: datetime,
    is_guest: bool = False,
) -> Profile:
    """Store what users.info said of a member of the workspace, stamped so it is not asked
    again too soon; a stamp also says Slack vouched for them."""
    return _update_person(
        db,
        slack_user_id,
        now,
        display_name=display_name,
        tz=tz,
        is_workspace_admin=is_workspace_admin,
        is_guest=is_guest,
        slack_checked_at=now,
    )


def set_opted_out(db: Database, slack_user_id: str, opted_out: bool, now: datetime) -> Profile:
    """Leave (True) or rejoin (False) the public leaderboard and award posts."""
    return _update_person(
        db, slack_user_id, now, opted_out=opted_out, opted_out_at=now if opted_out else None
    )


def _update_person(db: Database, slack_user_id: str, now: datetime, **values: Any) -> Profile:
    """Set `values` on the person with this Slack ID, made if need be. Met by their forget,
    they are set on the person made anew after it, as on a first command."""

    def write(conn: Connection) -> Profile:
        person_id = ensure_person(conn, slack_user_id, now)
        # Waits on a forget holding their row; none updated is their row deleted by it.
        changed(
            conn.execute(update(PersonRow).where(PersonRow.id == person_id).values(values)).rowcount
        )
        return _profile(conn.execute(select(PersonRow).where(PersonRow.id == person_id)).one())

    return write_for_person(db, write)


def _profile(row) -> Profile:
    return Profile(
        person_id=row.id,
        slack_user_id=row.slack_user_id,
        display_name=row.display_name,
        tz=row.tz,
        opted_out=row.opted_out,
        checked_at=row.slack_checked_at,
        is_workspace_admin=bool(row.is_workspace_admin),
        is_guest=bool(row.is_guest),
    )


def slack_user_of(db: Database, person_id: int) -> str | None:
    """The Slack user a person row is now, or None when there is no such row."""
    with db.read() as conn:
        return conn.scalar(select(PersonRow.slack_user_id).where(PersonRow.id == person_id))


def find_slack_profile(db: Database, slack_user_id: str) -> Profile | None:
    """What we know of a Slack user, without creating anyone."""
    with db.read() as conn:
        rows = _FIND_PROFILE.rows(conn, {"slack_user_id": slack_user_id})
    if not rows:
        return None
    person_id, user, display_name, tz, opted_out, checked_at, is_admin, is_guest = rows[0]
    return Profile(
        person_id=person_id,
        slack_user_id=user,
        display_name=display_name,
        tz=tz,
        opted_out=opted_out,
        checked_at=checked_at,
        is_workspace_admin=bool(is_admin),
        is_guest=bool(is_guest),
    )


# Compiled once: every slash command and Home tab opening reads it first.
_FIND_PROFILE = CompiledRead(
    select(
        PersonRow.id,
        PersonRow.slack_user_id,
        PersonRow.display_name,
        PersonRow.tz,
        PersonRow.opted_out,
        PersonRow.slack_checked_at,
        PersonRow.is_workspace_admin,
        PersonRow.is_guest,
    ).where(PersonRow.slack_user_id == bindparam("slack_user_id", type_=String))
)
