"""replies owed through a slash command's response_url after an empty ack

A reply answered after the ack was lost when the process died before sending it. Each is now
written before the ack and deleted once sent, and a row whose holder stopped is answered again
by the re-drive. Rows live at most 30 minutes (Slack's response_url dies then), so nothing
needs keeping on the way down.

Revision ID: 0220_owedreplies
Revises: 0215_owedfiles
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0220_owedreplies"
down_revision: str | None = "0215_owedfiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "owed_replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("response_url", sa.Text(), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=True),
        sa.Column("enterprise_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_owed_replies_slack_user_id", "owed_replies", ["slack_user_id"])
    op.create_index("ix_owed_replies_created_at", "owed_replies", ["created_at"])
    op.create_index("ix_owed_replies_lease_until", "owed_replies", ["lease_until"])


def downgrade() -> None:
    op.drop_table("owed_replies")
