"""owed_file_deletes: App Home chart files owed a files.delete in Slack, kept until it is made

Revision ID: 0215_owedfiles
Revises: 0200_teamdates
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0215_owedfiles"
down_revision: str | None = "0200_teamdates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "owed_file_deletes",
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("owed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("file_id"),
    )
    op.create_index("ix_owed_file_deletes_person_id", "owed_file_deletes", ["person_id"])
    op.create_index("ix_owed_file_deletes_not_before", "owed_file_deletes", ["not_before"])


def downgrade() -> None:
    op.drop_index("ix_owed_file_deletes_not_before", table_name="owed_file_deletes")
    op.drop_index("ix_owed_file_deletes_person_id", table_name="owed_file_deletes")
    op.drop_table("owed_file_deletes")
