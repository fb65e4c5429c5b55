"""read-side speed: identity in the rollup's day index; a partial index of report rows; people's
opt-out indexed

The award job and the leaderboard read who was active on which days across everyone; with the
identity in the day index those passes never touch the table. The one-source rule looks up
vendor reports' rows in every read; they are few next to pushed events, and a partial index of
them makes that look-up (and "are there any this week?") cheap. `top` reads who opted out on
every request, which without an index walks every person.

Revision ID: 0130_awards
Revises: 0120_figures
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0130_awards"
down_revision: str | None = "0120_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than read from storage: a migration records the schema of its day.
REPORT_ROWS = "origin != 'events'"


def upgrade() -> None:
    op.create_index("ix_usage_daily_day_identity", "usage_daily", ["day", "identity_id"])
    op.drop_index("ix_usage_daily_day", table_name="usage_daily")
    op.create_index(
        "ix_usage_daily_reports",
        "usage_daily",
        ["day", "identity_id"],
        sqlite_where=sa.text(REPORT_ROWS),
        postgresql_where=sa.text(REPORT_ROWS),
    )
    op.create_index("ix_people_opted_out", "people", ["opted_out"])


def downgrade() -> None:
    op.drop_index("ix_people_opted_out", table_name="people")
    op.drop_index("ix_usage_daily_reports", table_name="usage_daily")
    op.create_index("ix_usage_daily_day", "usage_daily", ["day"])
    op.drop_index("ix_usage_daily_day_identity", table_name="usage_daily")
