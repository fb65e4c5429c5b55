"""raw events partitioned by month on PostgreSQL (SQLite unchanged)

A partitioned table's keys must hold its partition key, so on PostgreSQL the primary key is
(id, day) and an event is unique per (integration_id, event_id, day): a resent event keeps its
occurred_at, hence its day. Months from the oldest stored event to two ahead get partitions,
and a default partition takes any other day (storage/event_partitions.py makes later months).

Revision ID: 0120_replicas
Revises: 0110_prod
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from datetime import date

from alembic import op
from sqlalchemy import text

revision: str = "0120_replicas"
down_revision: str | None = "0120_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('usage_events_id_seq'),
    integration_id integer NOT NULL REFERENCES integrations (id),
    event_id varchar(128) NOT NULL,
    identity_id integer NOT NULL REFERENCES identities (id),
    occurred_at timestamp with time zone NOT NULL,
    day date NOT NULL,
    tool varchar(64) NOT NULL,
    kind varchar(32) NOT NULL,
    model varchar(128),
    requests bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    suggestions_shown bigint,
    suggestions_accepted bigint,
    lines_accepted bigint,
    cost_usd double precision,
    attributes json,
    received_at timestamp with time zone NOT NULL"""
INDEXES = [
    "CREATE INDEX ix_usage_events_day ON usage_events (day)",
    "CREATE INDEX ix_usage_events_identity_time ON usage_events (identity_id, occurred_at)",
]
MONTHS_AHEAD = 2


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _set_aside_old_table(conn) -> None:
    conn.execute(text("DROP INDEX ix_usage_events_day"))
    conn.execute(text("DROP INDEX ix_usage_events_identity_time"))
    conn.execute(text("ALTER TABLE usage_events RENAME TO usage_events_old"))
    conn.execute(text("ALTER SEQUENCE usage_events_id_seq OWNED BY NONE"))
    for constraint in conn.execute(
        text(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'usage_events_old'::regclass "
            "AND contype IN ('p', 'u', 'f')"
        )
    ).scalars():
        conn.execute(text(f'ALTER TABLE usage_events_old DROP CONSTRAINT "{constraint}"'))


def _take_over_old_rows(conn) -> None:
    conn.execute(text("INSERT INTO usage_events SELECT * FROM usage_events_old"))
    conn.execute(text("DROP TABLE usage_events_old"))
    conn.execute(text("ALTER SEQUENCE usage_events_id_seq OWNED BY usage_events.id"))
    for statement in INDEXES:
        conn.execute(text(statement))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    _set_aside_old_table(conn)
    conn.execute(
        text(
            f"CREATE TABLE usage_events ({COLUMNS},\n"
            "    PRIMARY KEY (id, day),\n"
            "    UNIQUE (integration_id, event_id, day)\n"
            ") PARTITION BY RANGE (day)"
        )
    )
    conn.execute(text("CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT"))
    oldest = conn.execute(text("SELECT min(day) FROM usage_events_old")).scalar()
    today = conn.execute(text("SELECT current_date")).scalar_one()
    month = min(oldest or today, today).replace(day=1)
    last = today.replace(day=1)
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last)
    while month <= last:
        conn.execute(
            text(
                f"CREATE TABLE usage_events_y{month.year:04d}m{month.month:02d} "
                f"PARTITION OF usage_events FOR VALUES FROM ('{month.isoformat()}') "
                f"TO ('{_next_month(month).isoformat()}')"
            )
        )
        month = _next_month(month)
    _take_over_old_rows(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    _set_aside_old_table(conn)
    conn.execute(
        text(
            f"CREATE TABLE usage_events ({COLUMNS},\n"
            "    PRIMARY KEY (id),\n"
            "    UNIQUE (integration_id, event_id)\n"
            ")"
        )
    )
    _take_over_old_rows(conn)
