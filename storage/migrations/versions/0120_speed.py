"""read-side speed: identity, tool and kind in the rollup's day index; people's opt-out indexed

The award job and the leaderboard read who was active on which days across everyone; with
the identity in the day index those scans never touch the table. `top` reads who opted out
on every request, which without an index walks every person.

Revision ID: 0120_speed
Revises: 0110_prod
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0120_speed"
down_revision: str | None = "0110_prod"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_daily_day_identity", ["day", "identity_id", "tool", "kind"], unique=False
        )
        batch_op.drop_index("ix_usage_daily_day")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index("ix_people_opted_out", ["opted_out"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index("ix_people_opted_out")
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.create_index("ix_usage_daily_day", ["day"], unique=False)
        batch_op.drop_index("ix_usage_daily_day_identity")
