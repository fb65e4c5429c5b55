"""weekly marks per (day, person), so a week's re-sum reads only the people who changed

Revision ID: 0140_orgcold
Revises: 0130_orgweek
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0140_orgcold"
down_revision: str | None = "0130_orgweek"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A mark names the day and the person whose weekly rows it changes; a mark without a person
# (those left by 0130, and any written by hand) still means the whole week. Rows of an
# unlinked identity are in no weekly row, so they mark nothing; linking or unlinking marks the
# identity's days for the person it left and the one it joined. One primary-key look-up in
# `identities` more per daily row on SQLite; one join per statement on PostgreSQL, without
# 0130's look-up for a mark already there: with a mark per person and day the table holds
# thousands, and that anti-join made a 500-event batch 1.8x slower (bench/weekly_marks.py);
# a duplicate costs nothing but its row, and the five-minute job clears them.
_SQLITE_DAILY = """CREATE TRIGGER usage_weekly_{name} AFTER {event} ON usage_daily BEGIN
    INSERT INTO usage_weekly_stale (day, person_id)
    SELECT {row}.day, i.person_id FROM identities i
    WHERE i.id = {row}.identity_id AND i.person_id IS NOT NULL AND NOT EXISTS
    (SELECT 1 FROM usage_weekly_stale s WHERE s.day = {row}.day AND s.person_id = i.person_id);
    END"""
SQLITE_TRIGGERS = [
    _SQLITE_DAILY.format(name=name, event=event, row=row)
    for name, event, row in (("ins", "INSERT", "NEW"), ("upd", "UPDATE", "NEW"),
                             ("del", "DELETE", "OLD"))
] + [
    """CREATE TRIGGER usage_weekly_link AFTER UPDATE OF person_id ON identities
    WHEN OLD.person_id IS NOT NEW.person_id BEGIN
        INSERT INTO usage_weekly_stale (day, person_id)
        SELECT DISTINCT d.day, p.person_id FROM usage_daily d,
        (SELECT OLD.person_id AS person_id UNION SELECT NEW.person_id) p
        WHERE d.identity_id = NEW.id AND p.person_id IS NOT NULL; END"""
]  # fmt: skip

PG_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION usage_weekly_mark_new() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO usage_weekly_stale (day, person_id)
        SELECT DISTINCT n.day, i.person_id FROM changed_rows n
        JOIN identities i ON i.id = n.identity_id
        WHERE i.person_id IS NOT NULL;
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION usage_weekly_mark_link() RETURNS trigger LANGUAGE plpgsql
    AS $$
    BEGIN
        INSERT INTO usage_weekly_stale (day, person_id)
        SELECT DISTINCT d.day, p.person_id FROM usage_daily d
        JOIN new_identities n ON n.id = d.identity_id
        JOIN old_identities o ON o.id = n.id
        CROSS JOIN LATERAL (VALUES (o.person_id), (n.person_id)) AS p (person_id)
        WHERE o.person_id IS DISTINCT FROM n.person_id AND p.person_id IS NOT NULL;
        RETURN NULL;
    END $$""",
]

# 0130's triggers, restored by the downgrade.
_SQLITE_0130 = [
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
_PG_0130 = [
    """CREATE OR REPLACE FUNCTION usage_weekly_mark_new() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO usage_weekly_stale (day) SELECT DISTINCT n.day FROM changed_rows n
        WHERE NOT EXISTS (SELECT 1 FROM usage_weekly_stale s WHERE s.day = n.day);
        RETURN NULL;
    END $$""",
    """CREATE OR REPLACE FUNCTION usage_weekly_mark_link() RETURNS trigger LANGUAGE plpgsql
    AS $$
    BEGIN
        INSERT INTO usage_weekly_stale (day) SELECT DISTINCT d.day FROM usage_daily d
        JOIN new_identities n ON n.id = d.identity_id
        JOIN old_identities o ON o.id = n.id
        WHERE o.person_id IS DISTINCT FROM n.person_id
        AND NOT EXISTS (SELECT 1 FROM usage_weekly_stale s WHERE s.day = d.day);
        RETURN NULL;
    END $$""",
]


def _drop_sqlite_triggers() -> None:
    for name in ("ins", "upd", "del", "link"):
        op.execute(f"DROP TRIGGER IF EXISTS usage_weekly_{name}")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_sqlite_triggers()  # they name the table's columns; rebuilt below
    with op.batch_alter_table("usage_weekly_stale") as batch:
        batch.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch.drop_index("ix_usage_weekly_stale_day")
        batch.create_index("ix_usage_weekly_stale_day", ["day", "person_id"])
    # The PostgreSQL triggers call the functions by name: replacing the bodies is enough.
    for statement in SQLITE_TRIGGERS if sqlite else PG_FUNCTIONS:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_sqlite_triggers()
    # A person's mark becomes a whole week's, as 0130 reads every mark.
    with op.batch_alter_table("usage_weekly_stale") as batch:
        batch.drop_index("ix_usage_weekly_stale_day")
        batch.drop_column("person_id")
        batch.create_index("ix_usage_weekly_stale_day", ["day"])
    for statement in _SQLITE_0130 if sqlite else _PG_0130:
        op.execute(statement)
