"""OpenTelemetry's rollup rows under their own origin, `otlp`, apart from the HTTP API's

Until now both pushing doors added to the origin `events`; they are now two tiers of the
source rule (storage/precedence.py), and `events` stays the API's. A rollup row whose raw
events all came through OTLP (their ids are OTLP's own, `otlp:` and `otlp-log:`) is moved
to `otlp`, so that a day already under way when this runs counts as it will from now on.
Rows whose raw events were pruned, or mixed both doors, stay the API's: as counted before.

Revision ID: 0130_tiers
Revises: 0120_figures
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0130_tiers"
down_revision: str | None = "0130_awards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Named here rather than read from storage: a migration records the schema of its day.
KEY = ("identity_id", "day", "tool", "kind")
COUNTED = ("requests", "input_tokens", "output_tokens", "events")
REPORTED = (
    "suggestions_shown",
    "suggestions_accepted",
    "lines_accepted",
    "cost_usd",
    "commits",
    "pull_requests",
)
KEY_SQL = ", ".join(KEY)


def upgrade() -> None:
    op.execute(
        "UPDATE usage_daily SET origin = 'otlp' "
        f"WHERE origin = 'events' AND ({KEY_SQL}) IN ("
        f"SELECT {KEY_SQL} FROM usage_events GROUP BY {KEY_SQL} HAVING min(CASE WHEN "
        "event_id LIKE 'otlp:%' OR event_id LIKE 'otlp-log:%' THEN 1 ELSE 0 END) = 1)"
    )


def downgrade() -> None:
    # Back into the one pushed origin, added to the API's row of the same key where there
    # is one (a NULL figure, nobody reported, stays apart from 0).
    sums = [f"{name} = usage_daily.{name} + excluded.{name}" for name in COUNTED] + [
        f"{name} = coalesce(usage_daily.{name} + excluded.{name}, usage_daily.{name}, "
        f"excluded.{name})"
        for name in REPORTED
    ]
    names = ", ".join((*COUNTED, *REPORTED))
    op.execute(
        f"INSERT INTO usage_daily ({KEY_SQL}, origin, {names}) "
        f"SELECT {KEY_SQL}, 'events', {names} FROM usage_daily WHERE origin = 'otlp' "
        f"ON CONFLICT ({KEY_SQL}, origin) DO UPDATE SET {', '.join(sums)}"
    )
    op.execute("DELETE FROM usage_daily WHERE origin = 'otlp'")
