"""Slack files owed a `files.delete` (old App Home charts): one row each until Slack has
deleted the file or says it is gone, so a stop, a kill or a Slack outage never leaves one in
Slack for good, and a forget finds the person's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import PersonRow
from storage.post_models import OwedFileRow


@dataclass(frozen=True, slots=True)
class OwedFile:
    """A file owed a delete: whose chart it showed (None: nobody's now), since when, the
    failed tries so far, when it may be tried next, and Slack's word for the last failure."""

    file_id: str
    person_id: int | None
    owed_at: datetime
    attempts: int
    not_before: datetime
    error: str | None = None


def owe_file(
    conn: Connection, file_id: str, person_id: int | None, now: datetime, not_before: datetime
) -> None:
    """Owe the delete of `file_id`, inside the caller's transaction; one already owed stays
    as it is."""
    conn.execute(
        insert_ignore(conn, OwedFileRow).values(
            file_id=file_id, person_id=person_id, owed_at=now, attempts=0, not_before=not_before
        )
    )


def owed_files(
    db: Database,
    due_at: datetime | None = None,
    limit: int | None = None,
    file_ids: Sequence[str] | None = None,
) -> list[OwedFile]:
    """Files owed a delete, the longest due first; with `due_at`, only those due by then;
    with `file_ids`, only those of them."""
    query = select(OwedFileRow).order_by(OwedFileRow.not_before, OwedFileRow.file_id)
    if due_at is not None:
        query = query.where(OwedFileRow.not_before <= due_at)
    if file_ids is not None:
        query = query.where(OwedFileRow.file_id.in_(list(file_ids)))
    if limit is not None:
        query = query.limit(limit)
    with db.read() as conn:
        return [_owed(row) for row in conn.execute(query)]


def settle_files(db: Database, file_ids: list[str]) -> None:
    """These files are deleted in Slack (or gone): owed no more."""
    if file_ids:
        with db.write() as conn:
            conn.execute(delete(OwedFileRow).where(OwedFileRow.file_id.in_(file_ids)))


def defer_file(
    db: Database, file_id: str, not_before: datetime, error: str | None, *, failed: bool
) -> None:
    """Try `file_id` again from `not_before`; a failure (not a rate limit) counts a try."""
    with db.write() as conn:
        conn.execute(
            update(OwedFileRow)
            .where(OwedFileRow.file_id == file_id)
            .values(
                attempts=OwedFileRow.attempts + (1 if failed else 0),
                not_before=not_before,
                # Slack's words, held to the column and free of NULs (PostgreSQL refuses them).
                error=error.replace("\x00", "")[:200] if error else None,
            )
        )


def give_up_files(db: Database, max_attempts: int, owed_before: datetime) -> list[OwedFile]:
    """Delete, and return, the rows tried `max_attempts` times or owed since before
    `owed_before`: their files are not asked for again."""
    stale = or_(OwedFileRow.attempts >= max_attempts, OwedFileRow.owed_at < owed_before)
    with db.write() as conn:
        rows = [_owed(row) for row in conn.execute(select(OwedFileRow).where(stale))]
        if rows:
            gone = [row.file_id for row in rows]
            conn.execute(delete(OwedFileRow).where(OwedFileRow.file_id.in_(gone)))
    return rows


def _owed(row: Any) -> OwedFile:
    return OwedFile(
        row.file_id, row.person_id, row.owed_at, row.attempts, row.not_before, row.error
    )


def untie_person_files(conn: Connection, person_id: int, now: datetime) -> list[str]:
    """In a forget's transaction: the person's chart file and the files owed for them, all
    owed from now and tied to nobody; returns them, for the forget to delete at once.
    Whatever it cannot delete stays owed, and the job deletes it later."""
    current = conn.scalar(select(PersonRow.home_chart_file).where(PersonRow.id == person_id))
    if current:
        owe_file(conn, current, None, now, now)
    mine = OwedFileRow.person_id == person_id
    files = set(conn.scalars(select(OwedFileRow.file_id).where(mine)))
    conn.execute(update(OwedFileRow).where(mine).values(person_id=None, not_before=now))
    if current:
        files.add(current)
    return sorted(files)
