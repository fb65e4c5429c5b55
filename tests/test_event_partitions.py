"""Raw events by month on PostgreSQL: the daily retention run (`aiusage db prune`) makes the
coming months' partitions, moving days that landed in the default partition, and drops past
months whole; duplicates are still told apart; SQLite keeps its one table."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, text

from bot.cli.main import main
from storage.event_partitions import (
    drop_months_before,
    ensure_month_partitions,
    next_month,
    partition_name,
)
from storage.events import record_events
from storage.integrations import create_integration
from storage.models import EventRow
from storage.records import UsageEvent, UserRef
from tests.fault_helpers import AIUSAGE, wait_until
from tests.pg_stalls import waiting_on_locks


@pytest.fixture
def settings(settings, monkeypatch):
    from bot.settings import load_settings

    monkeypatch.setenv("AIUSAGE_RAW_RETENTION_DAYS", "90")
    return load_settings()


def events(moments: list[datetime], prefix: str = "e") -> list[UsageEvent]:
    return [
        UsageEvent(
            event_id=f"{prefix}{i}",
            user=UserRef(slack_user_id="UALICE"),
            occurred_at=moment,
            tool="kiro",
            input_tokens=1,
        )
        for i, moment in enumerate(moments)
    ]


def where_events_are(db) -> dict[str, int]:
    """Events per partition (the table itself, on SQLite)."""
    with db.read() as conn:
        if db.is_sqlite:
            return {"usage_events": conn.scalar(select(func.count()).select_from(EventRow))}
        rows = conn.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM usage_events GROUP BY 1")
        ).all()
    return {name.split(".")[-1]: n for name, n in rows}


def partitions(db) -> list[str]:
    with db.read() as conn:
        return sorted(
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'usage_events'::regclass"
                )
            ).scalars()
        )


def test_prune_drops_past_months_whole_and_the_rest_row_by_row(settings, db, capsys):
    if db.is_sqlite:
        pytest.skip("partitions are PostgreSQL's")
    # Months of partitions as a year of running would have made them (April to October).
    assert ensure_month_partitions(db, date(2026, 4, 10), ahead=6)[0] == "usage_events_y2026m04"
    now = datetime(2026, 11, 24, tzinfo=UTC)
    integration, _ = create_integration(db, "kiro", now)
    moments = [datetime(2026, month, 15, 12, tzinfo=UTC) for month in range(4, 12)]
    moments += [datetime(2026, 8, 25, 12, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)]
    record_events(db, integration.id, events(moments), now)
    assert where_events_are(db) == {
        "usage_events_y2026m04": 1,
        "usage_events_y2026m05": 1,
        "usage_events_y2026m06": 1,
        "usage_events_y2026m07": 1,
        "usage_events_y2026m08": 2,
        "usage_events_y2026m09": 1,
        "usage_events_y2026m10": 1,
        "usage_events_default": 2,  # November 2026 (made below) and January 2025
    }

    # 90 days before 2026-11-24 is 2026-08-26: April to July go whole as partitions; August's
    # two and the 2025 one in the default partition go row by row.
    with freeze_time(now):
        assert main(["db", "prune"]) == 0
    assert "deleted 7 raw usage events" in capsys.readouterr().out
    assert where_events_are(db) == {
        "usage_events_y2026m09": 1,
        "usage_events_y2026m10": 1,
        "usage_events_y2026m11": 1,  # moved out of the default when its month was made
    }
    months = [name for name in partitions(db) if name < "usage_events_y2026m12"]
    assert months == [
        "usage_events_default",
        "usage_events_y2026m08",  # the cutoff falls inside it: kept, emptied of the old days
        "usage_events_y2026m09",
        "usage_events_y2026m10",
        "usage_events_y2026m11",
    ]
    assert "usage_events_y2027m01" in partitions(db)  # made ahead
    # Run again: nothing more to drop or delete.
    with freeze_time(now):
        assert main(["db", "prune"]) == 0
    assert "deleted 0 raw usage events" in capsys.readouterr().out


def test_a_resent_event_is_a_duplicate_whichever_partition_holds_it(settings, db):
    now = datetime(2026, 11, 24, tzinfo=UTC)
    integration, _ = create_integration(db, "kiro", now)
    # Far past and far future days land in the default partition; a month made later
    # takes its days out of it.
    moments = [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2031, 3, 31, 23, 59, tzinfo=UTC),
        datetime(2200, 12, 31, tzinfo=UTC),
        now,
    ]
    first = record_events(db, integration.id, events(moments), now)
    assert first.accepted == [0, 1, 2, 3]
    made = ensure_month_partitions(db, date(2031, 3, 1), ahead=0)
    assert made == ([] if db.is_sqlite else ["usage_events_y2031m03"])
    again = record_events(db, integration.id, events(moments), now + timedelta(minutes=1))
    assert again.accepted == [] and again.duplicates == [0, 1, 2, 3]
    stored = where_events_are(db)
    assert sum(stored.values()) == 4
    if not db.is_sqlite:
        assert stored["usage_events_y2031m03"] == 1
        assert stored["usage_events_default"] == 3  # 1970, 2200, and November 2026
        assert drop_months_before(db, date(2031, 3, 31)) == 0  # March not wholly past yet
        assert drop_months_before(db, next_month(date(2031, 3, 1))) == 1


def test_the_migration_moves_stored_events_into_month_partitions(db):
    if db.is_sqlite:
        pytest.skip("partitions are PostgreSQL's")
    from alembic import command

    from storage.db import alembic_config

    now = datetime(2026, 11, 24, tzinfo=UTC)
    integration, _ = create_integration(db, "kiro", now)
    moments = [datetime(2026, 9, 3, tzinfo=UTC), datetime(2026, 10, 9, tzinfo=UTC)]
    record_events(db, integration.id, events(moments), now)
    # Down to the plain table and up again, with the events in it both ways.
    with db.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0110_prod")
        conn.commit()
    assert partitions(db) == []
    assert where_events_are(db) == {"usage_events": 2}
    db.upgrade()
    stored = where_events_are(db)
    assert stored == {"usage_events_y2026m09": 1, "usage_events_y2026m10": 1}
    # New events take ids after the old ones: the sequence came along.
    record_events(db, integration.id, events([now], prefix="new"), now)
    with db.read() as conn:
        ids = list(conn.scalars(select(EventRow.id).order_by(EventRow.occurred_at)))
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_two_prunes_making_the_same_months_at_once_both_succeed(settings, db):
    """`aiusage db prune` run by hand while the daily retention run makes the coming
    months' partitions (or two operators' prunes): both wait on the default partition's
    lock (held here by the test, as a long write to it would), then each makes what the
    other has not. The second used to fail on the partition the first had just made."""
    if db.is_sqlite:
        pytest.skip("partitions are PostgreSQL's")
    month = datetime.now(UTC).date().replace(day=1)  # the prunes' clock is the real one
    coming = {partition_name(m) for m in (month, next_month(month), next_month(next_month(month)))}
    with db.write() as conn:  # as a database migrated a month ago, before the daily run
        for name in sorted(coming - {partition_name(month)}):
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    argv = [AIUSAGE, "db", "prune"]
    with db.engine.connect() as holding:
        holding.execute(text("LOCK TABLE usage_events_default IN SHARE ROW EXCLUSIVE MODE"))
        prunes = [subprocess.Popen(argv, env=dict(os.environ), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE) for _ in range(2)]  # fmt: skip
        wait_until("both prunes waiting", lambda: waiting_on_locks(db) == 2, timeout=60)
        holding.rollback()
    for prune in prunes:
        _, err = prune.communicate(timeout=60)
        assert prune.returncode == 0, err.decode()
    assert coming <= set(partitions(db))
