"""Concurrent writers: overlapping batches from two threads end with exact totals."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from storage.db import Database
from storage.events import record_events
from storage.integrations import create_integration
from storage.records import UsageEvent, UserRef
from tests.readback import daily_usage


def test_two_writers_with_overlapping_batches_lose_and_double_nothing(settings, db, now):
    integration, _ = create_integration(db, "agent", now)
    start = datetime(2026, 11, 16, 8, tzinfo=UTC)
    events = [
        UsageEvent(
            event_id=f"e{i}",
            user=UserRef(slack_user_id=f"U{i % 7:03d}"),
            occurred_at=start + timedelta(minutes=i),
            tool="claude-code",
            input_tokens=10,
            output_tokens=1,
        )
        for i in range(3000)
    ]
    # Each writer sends its own order of overlapping batches, so they race on the same rows.
    plans = [
        [events[i : i + 250] for i in range(0, 3000, 250)],
        [events[i : i + 400] for i in range(1000, 3000, 400)][::-1]
        + [events[i : i + 300] for i in range(0, 1200, 300)],
    ]
    accepted = [0, 0]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(n: int) -> None:
        own = Database(settings.database_url, settings.timezone)  # its own pool, as a replica
        try:
            barrier.wait()
            for batch in plans[n]:
                accepted[n] += len(record_events(own, integration.id, batch, now).accepted)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=writer, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(accepted) == 3000
    days = daily_usage(db, date(2026, 11, 16), date(2026, 11, 22))
    assert sum(d.totals.events for d in days) == 3000
    assert sum(d.totals.input_tokens for d in days) == 30_000
