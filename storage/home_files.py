"""The Slack file each person's App Home chart was uploaded as, kept on their row so any
process (another replica, the operator's `people forget`) can delete it from Slack; and the
files it replaced, owed a delete (`storage.owed_files`) in the same transaction, so a kill
after the swap never loses one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from storage.db import Database
from storage.models import PersonRow
from storage.owed_files import owe_file
from storage.post_models import OwedFileRow


@dataclass(frozen=True, slots=True)
class HomeChartFile:
    """The file recorded as the person's chart, and the fingerprint of the chart it shows
    (None for a file recorded before fingerprints were kept)."""

    file_id: str | None
    fingerprint: str | None


def home_chart_file(db: Database, person_id: int) -> HomeChartFile | None:
    """The person's recorded chart file, read by primary key; None when they are gone."""
    with db.read() as conn:
        row = conn.execute(
            select(PersonRow.home_chart_file, PersonRow.home_chart_print).where(
                PersonRow.id == person_id
            )
        ).first()
    return None if row is None else HomeChartFile(row.home_chart_file, row.home_chart_print)


def owe_upload(db: Database, person_id: int, file_id: str, now: datetime, grace: timedelta) -> bool:
    """Before an upload is finished: owe its file a delete from `now + grace`, unless it is
    recorded as the person's chart by then, so a kill between the upload and the swap leaves
    it owed. False when the person is gone (forgotten): there is nothing to upload for."""
    with db.write() as conn:
        # A key share lock, as the row's foreign key takes: a forget under way (which holds
        # the person's row) is waited for, and then the person is gone.
        found = conn.scalar(
            select(PersonRow.id).where(PersonRow.id == person_id).with_for_update(key_share=True)
        )
        if found is None:
            return False
        owe_file(conn, file_id, person_id, now, now + grace)
    return True


def swap_home_chart_file(
    db: Database, person_id: int, file_id: str, now: datetime, fingerprint: str | None = None
) -> list[str]:
    """Record `file_id` as the person's chart file, showing the chart of `fingerprint`;
    returns the files now owed a delete, to try at once: the one it replaces, or `file_id`
    itself when the person was forgotten meanwhile (it shows nobody)."""
    with db.write() as conn:
        # Locked first: a forget holding the row is waited for, so either it sees this file
        # as theirs, or this sees them gone.
        previous = conn.execute(
            select(PersonRow.id, PersonRow.home_chart_file)
            .where(PersonRow.id == person_id)
            .with_for_update()
        ).first()
        # The upload's own trace (`owe_upload`): the file is recorded from here on.
        conn.execute(delete(OwedFileRow).where(OwedFileRow.file_id == file_id))
        if previous is None:
            owe_file(conn, file_id, None, now, now)
            return [file_id]
        conn.execute(
            update(PersonRow)
            .where(PersonRow.id == person_id)
            .values(home_chart_file=file_id, home_chart_print=fingerprint)
        )
        old = previous.home_chart_file
        if old is None or old == file_id:
            return []
        owe_file(conn, old, person_id, now, now)
    return [old]
