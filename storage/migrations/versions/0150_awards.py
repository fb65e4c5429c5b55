"""a row per person and week, every tool merged, for the award job's reads

Revision ID: 0150_awards
Revises: 0140_orgcold
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0150_awards"
down_revision: str | None = "0140_orgcold"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named here rather than read from storage.figures: a migration records the schema of its day.
COUNTED = ("requests", "input_tokens", "output_tokens")
REPORTED = ("suggestions_shown", "suggestions_accepted", "lines_accepted")
SHIPPED = ("commits", "pull_requests")


def upgrade() -> None:
    figures: list[sa.Column[Any]] = [
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTED],
        *[sa.Column(name, sa.BigInteger(), nullable=True) for name in REPORTED],
        sa.Column("cost_usd", sa.Float(), nullable=True),
        *[sa.Column(name, sa.BigInteger(), nullable=True) for name in SHIPPED],
    ]
    op.create_table(
        "usage_person_weekly",
        sa.Column("week", sa.Date(), primary_key=True),
        sa.Column("person_id", sa.Integer(), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("day_mask", sa.Integer(), nullable=False),
        sa.Column("kind_mask", sa.Integer(), nullable=False),
        sa.Column("tools", sa.Text(), nullable=False),
        *figures,
    )
    op.create_index("ix_usage_person_weekly_person", "usage_person_weekly", ["person_id"])
    # Every week summed so far is marked whole, so its person-week rows are made at the next
    # re-sum (the five-minute job, or the award job's own before it reads); weeks never
    # summed are marked already.
    op.execute(
        "INSERT INTO usage_weekly_stale (day, person_id) "
        "SELECT DISTINCT week, CAST(NULL AS INTEGER) FROM usage_weekly"
    )


def downgrade() -> None:
    op.drop_table("usage_person_weekly")
