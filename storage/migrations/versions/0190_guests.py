"""people.is_guest: whether Slack last said the person is a guest of the workspace, who sees
their own figures but not the leaderboard or the org view

Revision ID: 0190_guests
Revises: 0180_workdays
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0190_guests"
down_revision: str | None = "0180_workdays"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Everyone stored so far counts as a member (the code that stored them saw them in
    # Slack); a guest among them is found out at the next users.info, within a day.
    # Not a batch, which on SQLite would copy `people` and drop the old table: the rows other
    # tables hold against it refuse that. Both databases add a column with a default in place.
    op.add_column(
        "people", sa.Column("is_guest", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    # Not a batch either (see above); SQLite drops a plain column in place since 3.35.
    op.execute("ALTER TABLE people DROP COLUMN is_guest")
