"""forgotten identities (privacy)

Revision ID: 0110_privacy
Revises: 0100_posts
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0110_privacy"
down_revision: str | None = "0110_org"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forgotten_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("group_digest", sa.String(length=64), nullable=False),
        sa.Column("forgotten_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_index(
        "ix_forgotten_identities_group_digest", "forgotten_identities", ["group_digest"]
    )


def downgrade() -> None:
    op.drop_index("ix_forgotten_identities_group_digest", table_name="forgotten_identities")
    op.drop_table("forgotten_identities")
