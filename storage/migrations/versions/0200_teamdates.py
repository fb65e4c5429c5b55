"""team memberships are dated: a week sums a team over the members at its start

Revision ID: 0200_teamdates
Revises: 0190_guests
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200_teamdates"
down_revision: str | None = "0190_guests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's copy of the table names the unnamed unique key by this; PostgreSQL named it itself.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unique_key() -> str:
    if op.get_bind().dialect.name == "sqlite":
        return "uq_team_members_team_id"
    return "team_members_team_id_identity_id_key"


def upgrade() -> None:
    # Rows stored so far become members since always (`since` NULL): nothing says when they
    # joined. Someone who leaves and comes back has a spell each: only an open spell is
    # one per member.
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("team_members", naming_convention=_NAMES) as batch:
        batch.add_column(sa.Column("since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("until", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(_unique_key(), type_="unique")
    op.create_index(
        "uq_team_members_open",
        "team_members",
        ["team_id", "identity_id"],
        unique=True,
        sqlite_where=sa.text("until IS NULL"),
        postgresql_where=sa.text("until IS NULL"),
    )


def downgrade() -> None:
    # Back to members as they are now: ended spells go (an open one is one per member),
    # and so do teams no source gives any more.
    op.execute("DELETE FROM team_members WHERE until IS NOT NULL")
    op.execute("DELETE FROM teams WHERE removed_at IS NOT NULL")
    op.drop_index("uq_team_members_open", table_name="team_members")
    with op.batch_alter_table("team_members", naming_convention=_NAMES) as batch:
        batch.create_unique_constraint(_unique_key(), ["team_id", "identity_id"])
        batch.drop_column("until")
        batch.drop_column("since")
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("removed_at")
