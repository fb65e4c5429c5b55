"""The migration that remembers guests (0190_guests): everyone stored before it stays a
member Slack vouched for, and is answered as before. On both databases, through alembic."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command

from storage.db import alembic_config
from storage.profiles import find_slack_profile, save_slack_profile

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)


def test_profiles_stored_before_it_stay_vouched_for_members(db):
    with db.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0180_workdays")
        conn.commit()
    with db.engine.begin() as conn:  # as the code before it stored a profile
        conn.exec_driver_sql(
            "INSERT INTO people (slack_user_id, display_name, tz, is_workspace_admin, "
            "opted_out, slack_checked_at, created_at) "
            "VALUES ('UALICE', 'alice', 'Europe/Berlin', false, false, '2026-11-18 12:00:00', "
            "'2026-11-18 12:00:00')"
        )
    db.upgrade()
    alice = find_slack_profile(db, "UALICE")
    assert alice is not None and alice.checked_at is not None and not alice.is_guest
    guest = save_slack_profile(
        db, "UGUEST", display_name=None, tz=None, is_workspace_admin=False, now=NOW, is_guest=True
    )
    assert guest.is_guest and find_slack_profile(db, "UGUEST").is_guest
