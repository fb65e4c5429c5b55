"""people.home_chart_file: the Slack file of the person's App Home chart, so a forget (from
any process) can delete it with files.delete

Revision ID: 0120_lifecycle
Revises: 0110_prod
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0120_lifecycle"
down_revision: str | None = "0110_prod"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("home_chart_file", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.drop_column("home_chart_file")
