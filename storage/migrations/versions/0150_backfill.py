"""SQLite's weekly-mark triggers skip a day that already holds a whole-day mark

Revision ID: 0150_backfill
Revises: 0150_awards
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0150_backfill"
down_revision: str | None = "0150_awards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A mark without a person already means the whole week is summed again (0140), so a row
# trigger has nothing to add for its day; a writer replacing whole days (a connector's
# fetch) writes that one mark first and its thousands of rows then cost one index probe
# each instead of an identity look-up and a mark. Safe on SQLite only: the mark cannot be
# cleared before the writer commits, as `storage.weekly.fresh_weeks` clears marks under
# the same write lock. PostgreSQL's statement triggers mark once a statement already and
# are left as they are.
_SQLITE_DAILY = """CREATE TRIGGER usage_weekly_{name} AFTER {event} ON usage_daily
    WHEN NOT EXISTS (SELECT 1 FROM usage_weekly_stale w
                     WHERE w.day = {row}.day AND w.person_id IS NULL) BEGIN
    INSERT INTO usage_weekly_stale (day, person_id)
    SELECT {row}.day, i.person_id FROM identities i
    WHERE i.id = {row}.identity_id AND i.person_id IS NOT NULL AND NOT EXISTS
    (SELECT 1 FROM usage_weekly_stale s WHERE s.day = {row}.day AND s.person_id = i.person_id);
    END"""
# 0140's, restored by the downgrade.
_SQLITE_0140 = """CREATE TRIGGER usage_weekly_{name} AFTER {event} ON usage_daily BEGIN
    INSERT INTO usage_weekly_stale (day, person_id)
    SELECT {row}.day, i.person_id FROM identities i
    WHERE i.id = {row}.identity_id AND i.person_id IS NOT NULL AND NOT EXISTS
    (SELECT 1 FROM usage_weekly_stale s WHERE s.day = {row}.day AND s.person_id = i.person_id);
    END"""
_EVENTS = (("ins", "INSERT", "NEW"), ("upd", "UPDATE", "NEW"), ("del", "DELETE", "OLD"))


def _replace(template: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, event, row in _EVENTS:
        op.execute(f"DROP TRIGGER IF EXISTS usage_weekly_{name}")
        op.execute(template.format(name=name, event=event, row=row))


def upgrade() -> None:
    _replace(_SQLITE_DAILY)


def downgrade() -> None:
    _replace(_SQLITE_0140)
