"""Who gets the weekly digest by direct message: one switch per person, off by default, and
turned off for someone Slack will not let us write to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from storage.db import Database
from storage.dialect import insert
from storage.models import DigestRow, PersonRow
from storage.people import ensure_person
from storage.person_writes import write_for_person
from storage.post_models import AuditRow

DIGEST_ACTOR = "weekly-digest"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A person who asked for the digest, with the zone Slack last gave for them and when
    Slack last vouched for them (`users.info` on a command or Home open)."""

    person_id: int
    slack_user_id: str
    tz: str | None
    slack_checked_at: datetime | None


def set_digest(db: Database, slack_user_id: str, enabled: bool, now: datetime) -> bool:
    """Turn the caller's digest on or off; returns the new state. Met by their forget, it
    is set for them as they are after it (`storage.person_writes`)."""

    def switch(conn: Connection) -> None:
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

    write_for_person(db, switch)
    return enabled


def stop_digest(db: Database, subscriber: Subscriber, reason: str, now: datetime) -> bool:
    """Turn off the digest of someone Slack says no direct message can reach, audited with
    `reason`; False if it was off already (another replica got there first)."""
    with db.write() as conn:
        stopped = conn.execute(
            update(DigestRow)
            .where(DigestRow.person_id == subscriber.person_id, DigestRow.enabled.is_(True))
            .values(enabled=False, changed_at=now)
        ).rowcount
        if not stopped:
            return False
        # The detail names them so an operator can answer "where did my digest go?"; a
        # forget scrubs it from the audit with everything else that names them.
        conn.execute(
            insert(conn, AuditRow).values(
                at=now,
                actor=DIGEST_ACTOR,
                action="digest.off",
                outcome="done",
                detail=f"{subscriber.slack_user_id}: Slack refuses their DMs ({reason}); "
                "`/aiusage digest on` turns it on again",
            )
        )
    return True


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
            select(PersonRow.id, PersonRow.slack_user_id, PersonRow.tz, PersonRow.slack_checked_at)
            .join(DigestRow, DigestRow.person_id == PersonRow.id)
            .where(DigestRow.enabled.is_(True), PersonRow.slack_user_id.is_not(None))
            .order_by(PersonRow.id)
        ).all()
    return [Subscriber(row.id, row.slack_user_id, row.tz, row.slack_checked_at) for row in rows]
