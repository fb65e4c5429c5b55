"""The migration that gives OpenTelemetry's rollup rows their own origin (0130_tiers): rows
made wholly of OTLP's events move to `otlp`, the rest stay the API's, and down again the
two add back up into one row. On both databases, through alembic itself."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import select

from storage.db import alembic_config
from storage.events import record_events
from storage.integrations import create_integration
from storage.models import DailyRow
from storage.people import link_email
from storage.precedence import API_ORIGIN, OTLP_ORIGIN
from storage.records import UsageEvent, UserRef

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)


def usage(event_id: str, kind: str, requests: int, commits: int | None = None) -> UsageEvent:
    return UsageEvent(
        event_id=event_id,
        user=UserRef(email="dev@example.com"),
        occurred_at=NOW,
        tool="claude-code",
        kind=kind,
        requests=requests,
        commits=commits,
    )


def rows(db) -> dict[tuple[str, str], tuple[int, int | None, int]]:
    with db.read() as conn:
        found = conn.execute(
            select(
                DailyRow.kind, DailyRow.origin, DailyRow.requests, DailyRow.commits, DailyRow.events
            )
        )
        return {
            (kind, origin): (requests, commits, events)
            for kind, origin, requests, commits, events in found
        }


def test_rows_wholly_from_otlp_move_to_its_origin_and_back(db):
    link_email(db, "dev@example.com", "UDEV", NOW)
    integration, _ = create_integration(db, "claude", NOW)
    with db.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0120_figures")
        conn.commit()
    # before the doors had origins: everything pushed went to `events`
    record_events(
        db,
        integration.id,
        [
            usage("otlp:aa", "agent", 2, commits=1),  # OTLP's metric events
            usage("otlp-log:bb", "agent", 3),  # and its log events
            usage("otlp:cc", "chat", 1),  # one kind mixed with an API event
            usage("api-1", "chat", 4, commits=2),
            usage("api-2", "other", 5),  # the API's alone
        ],
        NOW,
    )
    assert rows(db) == {
        ("agent", API_ORIGIN): (5, 1, 2),
        ("chat", API_ORIGIN): (5, 2, 2),
        ("other", API_ORIGIN): (5, None, 1),
    }
    db.upgrade()
    assert rows(db) == {
        ("agent", OTLP_ORIGIN): (5, 1, 2),
        ("chat", API_ORIGIN): (5, 2, 2),  # mixed: stays the API's, counted as before
        ("other", API_ORIGIN): (5, None, 1),
    }
    # new OTLP usage of a kind the API also had: its own row now
    record_events(db, integration.id, [usage("otlp:dd", "other", 7)], NOW, OTLP_ORIGIN)
    with db.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0120_figures")
        conn.commit()
    assert rows(db) == {
        ("agent", API_ORIGIN): (5, 1, 2),
        ("chat", API_ORIGIN): (5, 2, 2),
        ("other", API_ORIGIN): (12, None, 2),  # added up again
    }
    db.upgrade()
