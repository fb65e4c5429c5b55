"""The Slack file each person's App Home chart was uploaded as, kept on their row so any
process (another replica, the operator's `people forget`) can delete it from Slack."""

from __future__ import annotations

from sqlalchemy import select, update

from storage.db import Database
from storage.models import PersonRow


def swap_home_chart_file(db: Database, person_id: int, file_id: str) -> str | None:
    """Record `file_id` as the person's chart file; returns the one it replaces, if any."""
    with db.write() as conn:
        previous = conn.scalar(select(PersonRow.home_chart_file).where(PersonRow.id == person_id))
        conn.execute(
            update(PersonRow).where(PersonRow.id == person_id).values(home_chart_file=file_id)
        )
    return previous
