"""What a `people import` linked, for the tests that kill it or cut Slack off under it."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import IdentityRow, PersonRow


def links(db: Database) -> dict[tuple[str, str], str]:
    """Every identity other than a Slack ID, and whose it counts as; fails on one stored twice."""
    with db.read() as conn:
        rows = conn.execute(
            select(IdentityRow.kind, IdentityRow.value, PersonRow.slack_user_id)
            .join(PersonRow, PersonRow.id == IdentityRow.person_id, isouter=True)
            .where(IdentityRow.kind != "slack")
        ).all()
    found = {(kind, value): user for kind, value, user in rows}
    assert len(found) == len(rows)
    return found
