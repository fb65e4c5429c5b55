"""active days, tools and kinds count only usage that did work: every week summed again

Revision ID: 0180_workdays
Revises: 0170_dmclaims
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0180_workdays"
down_revision: str | None = "0170_dmclaims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every week summed so far counted a day with nothing but empty events as active; marked
# whole, each is summed again by the new rule at the next re-sum (the five-minute job, or
# the award job's own before it reads), as 0150 did for the person-week rows.
_MARK_SUMMED_WEEKS = (
    "INSERT INTO usage_weekly_stale (day, person_id) "
    "SELECT DISTINCT week, CAST(NULL AS INTEGER) FROM usage_weekly"
)


def upgrade() -> None:
    # A person-week without work used no tool: NULL, as an empty string is a tool's name.
    with op.batch_alter_table("usage_person_weekly") as batch:
        batch.alter_column("tools", existing_type=sa.Text(), nullable=True)
    op.execute(_MARK_SUMMED_WEEKS)


def downgrade() -> None:
    op.execute("DELETE FROM usage_person_weekly")
    op.execute(_MARK_SUMMED_WEEKS)
    with op.batch_alter_table("usage_person_weekly") as batch:
        batch.alter_column("tools", existing_type=sa.Text(), nullable=False)
