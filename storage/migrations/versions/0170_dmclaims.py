"""forget the claims of digest DMs sent to people forgotten before a forget deleted them

A direct message's claim in `posts` has the person's Slack user ID as its channel. Forgets
before this revision left those claims behind (their ID kept for good); a forget now deletes
them. This deletes the ones already left: digest claims whose channel is nobody stored. A
person who opted in again since is stored again, and keeps theirs. Nothing to restore on the
way down: the rows only said that someone since forgotten had had a digest.

Revision ID: 0170_dmclaims
Revises: 0160_edits
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0170_dmclaims"
down_revision: str | None = "0160_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than read from jobs.digest: a migration records the keys of its day.
FORGOTTEN_DIGEST_CLAIMS = """DELETE FROM posts WHERE post_key LIKE 'digest:%'
    AND NOT EXISTS (SELECT 1 FROM people p WHERE p.slack_user_id = posts.channel)"""


def upgrade() -> None:
    op.execute(sa.text(FORGOTTEN_DIGEST_CLAIMS))


def downgrade() -> None:
    pass
