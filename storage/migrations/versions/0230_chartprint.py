"""people.home_chart_print: the fingerprint of the chart people.home_chart_file shows

Replicas in Socket Mode each remembered which uploaded file showed which chart; one could
show a file another had replaced and deleted, and each uploaded the same chart again. With
the chart's fingerprint beside the file, any replica can tell the recorded file is current.

Revision ID: 0230_chartprint
Revises: 0220_owedreplies
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0230_chartprint"
down_revision: str | None = "0220_owedreplies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not a batch, which on SQLite would copy `people` and drop the old table: the rows other
    # tables hold against it refuse that (0190_guests). Both add a nullable column in place.
    op.add_column("people", sa.Column("home_chart_print", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Not a batch either; SQLite drops a plain column in place since 3.35.
    op.execute("ALTER TABLE people DROP COLUMN home_chart_print")
