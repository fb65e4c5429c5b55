"""the weekly rollup's day and kind masks, for the award job

Revision ID: 0140_awards2
Revises: 0130_orgweek
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0140_awards2"
down_revision: str | None = "0130_orgweek"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for name in ("day_mask", "kind_mask"):
        op.add_column(
            "usage_weekly",
            sa.Column(name, sa.Integer(), nullable=False, server_default=sa.text("0")),
        )
    # Every week summed so far is summed again at its next read, masks and all (weeks not
    # yet summed are marked already).
    op.execute("INSERT INTO usage_weekly_stale (day) SELECT DISTINCT week FROM usage_weekly")


def downgrade() -> None:
    with op.batch_alter_table("usage_weekly") as batch:
        batch.drop_column("kind_mask")
        batch.drop_column("day_mask")
