"""Who gets the weekly digest by direct message: one switch per person, off by default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storage.db import Database
from storage.dialect import insert
from storage.models import DigestRow, PersonRow
from storage.people import ensure_person


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A person who asked for the digest, with the zone Slack last gave for them."""

    person_id: int
    slack_user_id: str
    tz: str | None


def set_digest(db: Database, slack_user_id: str, enabled: bool, now: datetime) -> bool:
    """Turn the caller's digest on or off; returns the new state."""
    with db.write() as conn:
        person_id = ensure_person(conn, slack_user_id, now)
        statement = insert(conn, DigestRow).values(
            person_id=person_id, enabled=enabled, changed_at=now
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[DigestRow.person_id],
                set_={"enabled": enabled, "changed_at": now},
            )
        )
    return enabled


def digest_enabled(db: Database, person_id: int) -> bool:
    with db.read() as conn:
        value = conn.execute(
            select(DigestRow.enabled).where(DigestRow.person_id == person_id)
        ).scalar_one_or_none()
    return bool(value)


def digest_subscribers(db: Database) -> list[Subscriber]:
    """Everyone with the digest on and a Slack user to send it to, by person id."""
    with db.read() as conn:
        rows = conn.execute(
            select(PersonRow.id, PersonRow.slack_user_id, PersonRow.tz)
            .join(DigestRow, DigestRow.person_id == PersonRow.id)
            .where(DigestRow.enabled.is_(True), PersonRow.slack_user_id.is_not(None))
            .order_by(PersonRow.id)
        ).all()
    return [Subscriber(row.id, row.slack_user_id, row.tz) for row in rows]
