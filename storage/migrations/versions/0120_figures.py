"""shipped work as figures: commits and pull requests made with a tool, on events and the rollup

Revision ID: 0120_figures
Revises: 0110_prod
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0120_figures"
down_revision: str | None = "0120_replicas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named here rather than read from storage.figures: a migration records the schema of its day.
TABLES = ("usage_events", "usage_daily")
FIGURES = ("commits", "pull_requests")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for name in FIGURES:
                # Nullable with no default: rows from before were never told, which is not 0.
                batch.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for name in FIGURES:
                batch.drop_column(name)
