"""On PostgreSQL the event rows go through a staging table made once per connection
(`storage.bulk`): a batch whose transaction rolls back, even the one that made the table,
must leave the next batch on that connection able to write, and two batches in one
transaction must each count once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.events import identity_ids, record_events, record_events_in
from storage.integrations import create_integration
from storage.records import UsageEvent, UserRef
from tests.readback import daily_usage

AT = datetime(2026, 11, 18, 9, tzinfo=UTC)


class Abandoned(Exception):
    """Raised inside a write transaction, so that it rolls back."""


def usage(event_id: str, input_tokens: int) -> UsageEvent:
    return UsageEvent(
        event_id=event_id,
        user=UserRef(slack_user_id="UALICE"),
        occurred_at=AT,
        tool="kiro",
        input_tokens=input_tokens,
    )


def test_rolled_back_batches_leave_the_next_ones_whole(db, now):
    integration, _ = create_integration(db, "kiro", now)
    identities = identity_ids(db, {("slack", "UALICE")}, now)
    # The first events written on this connection: the staging table is made in a
    # transaction that then rolls back, and so is gone with it.
    with pytest.raises(Abandoned), db.write() as conn:
        record_events_in(conn, db, integration.id, [usage("lost", 1000)], identities, now)
        raise Abandoned
    with db.write() as conn:
        first = record_events_in(conn, db, integration.id, [usage("a", 5)], identities, now)
        again = [usage("b", 7), usage("a", 1000)]
        second = record_events_in(conn, db, integration.id, again, identities, now)
    assert first.accepted == [0]
    assert (second.accepted, second.duplicates) == ([0], [1])
    with pytest.raises(Abandoned), db.write() as conn:
        record_events_in(conn, db, integration.id, [usage("lost", 1000)], identities, now)
        raise Abandoned
    assert record_events(db, integration.id, [usage("c", 3)], now).accepted == [0]
    [day] = daily_usage(db, AT.date(), AT.date())
    assert (day.totals.input_tokens, day.totals.events) == (15, 3)
