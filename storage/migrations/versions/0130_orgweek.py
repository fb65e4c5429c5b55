"""the weekly rollup for the org view and grouped reports, and the marks that keep it right

Revision ID: 0130_orgweek
Revises: 0120_figures
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0130_orgweek"
down_revision: str | None = "0130_tiers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named here rather than read from storage.figures: a migration records the schema of its day.
COUNTED = ("requests", "input_tokens", "output_tokens")
REPORTED = ("suggestions_shown", "suggestions_accepted", "lines_accepted")
SHIPPED = ("commits", "pull_requests")

# Every change to the daily rows, and every identity moving to another person, marks its
# days stale; `storage.weekly` re-sums those weeks before a read. Triggers, so no writer
# (ingest, imports, connectors, forget, retention, links, and any added later) can miss it.
# SQLite has row triggers only: one indexed look-up a row. PostgreSQL gets statement
# triggers over the transition tables: one small insert a statement, whatever its size.
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER usage_weekly_{name} AFTER {event} ON usage_daily BEGIN
        INSERT INTO usage_weekly_stale (day) SELECT {row}.day WHERE NOT EXISTS
        (SELECT 1 FROM usage_weekly_stale WHERE day = {row}.day); END"""
    for name, event, row in (("ins", "INSERT", "NEW"), ("upd", "UPDATE", "NEW"),
                             ("del", "DELETE", "OLD"))
] + [
    """CREATE TRIGGER usage_weekly_link AFTER UPDATE OF person_id ON identities
    WHEN OLD.person_id IS NOT NEW.person_id BEGIN
        INSERT INTO usage_weekly_stale (day) SELECT DISTINCT day FROM usage_daily
        WHERE identity_id = NEW.id AND day NOT IN (SELECT day FROM usage_weekly_stale); END"""
]  # fmt: skip

PG_STATEMENTS = [
    """CREATE FUNCTION usage_weekly_mark_new() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO usage_weekly_stale (day) SELECT DISTINCT n.day FROM changed_rows n
        WHERE NOT EXISTS (SELECT 1 FROM usage_weekly_stale s WHERE s.day = n.day);
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION usage_weekly_mark_link() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO usage_weekly_stale (day) SELECT DISTINCT d.day FROM usage_daily d
        JOIN new_identities n ON n.id = d.identity_id
        JOIN old_identities o ON o.id = n.id
        WHERE o.person_id IS DISTINCT FROM n.person_id
        AND NOT EXISTS (SELECT 1 FROM usage_weekly_stale s WHERE s.day = d.day);
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER usage_weekly_ins AFTER INSERT ON usage_daily
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION usage_weekly_mark_new()""",
    """CREATE TRIGGER usage_weekly_upd AFTER UPDATE ON usage_daily
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION usage_weekly_mark_new()""",
    """CREATE TRIGGER usage_weekly_del AFTER DELETE ON usage_daily
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
    EXECUTE FUNCTION usage_weekly_mark_new()""",
    """CREATE TRIGGER usage_weekly_link AFTER UPDATE ON identities
    REFERENCING OLD TABLE AS old_identities NEW TABLE AS new_identities
    FOR EACH STATEMENT EXECUTE FUNCTION usage_weekly_mark_link()""",
]


def upgrade() -> None:
    figures: list[sa.Column[Any]] = [
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTED],
        *[sa.Column(name, sa.BigInteger(), nullable=True) for name in REPORTED],
        sa.Column("cost_usd", sa.Float(), nullable=True),
        *[sa.Column(name, sa.BigInteger(), nullable=True) for name in SHIPPED],
    ]
    op.create_table(
        "usage_weekly",
        sa.Column("week", sa.Date(), primary_key=True),
        sa.Column("person_id", sa.Integer(), primary_key=True),
        sa.Column("tool", sa.String(64), primary_key=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("unpriced_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("unpriced_output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("priced", sa.Integer(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        *figures,
    )
    op.create_index("ix_usage_weekly_person", "usage_weekly", ["person_id", "week"])
    op.create_table(
        "usage_weekly_stale",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("day", sa.Date(), nullable=False),
    )
    op.create_index("ix_usage_weekly_stale_day", "usage_weekly_stale", ["day"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_TRIGGERS if sqlite else PG_STATEMENTS:
        op.execute(statement)
    # Every week with daily rows is summed at its first read.
    op.execute("INSERT INTO usage_weekly_stale (day) SELECT DISTINCT day FROM usage_daily")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("ins", "upd", "del", "link"):
            op.execute(f"DROP TRIGGER IF EXISTS usage_weekly_{name}")
    else:
        for name, table in (("ins", "usage_daily"), ("upd", "usage_daily"),
                            ("del", "usage_daily"), ("link", "identities")):  # fmt: skip
            op.execute(f"DROP TRIGGER IF EXISTS usage_weekly_{name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS usage_weekly_mark_new()")
        op.execute("DROP FUNCTION IF EXISTS usage_weekly_mark_link()")
    op.drop_table("usage_weekly_stale")
    op.drop_table("usage_weekly")
