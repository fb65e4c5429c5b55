"""Recording usage events and keeping the daily rollup in step, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update

from storage.bulk import DAILY_KEY, NULLABLE_SUMS, insert_new_events, upsert_daily
from storage.db import Database
from storage.models import IntegrationRow
from storage.people import IdentityKey, resolve_identities
from storage.records import RecordResult, UsageEvent, UserRef

EVENTS_ORIGIN = "events"
SUMS = ("requests", "input_tokens", "output_tokens", *NULLABLE_SUMS, "events")


def identity_key(user: UserRef) -> IdentityKey:
    if user.slack_user_id:
        return ("slack", user.slack_user_id)
    assert user.email
    return ("email", user.email.lower())


def record_events(
    db: Database, integration_id: int, events: Sequence[UsageEvent], now: datetime
) -> RecordResult:
    """Store a batch. Positions whose event_id this integration already sent, in an earlier
    batch or earlier in this one, come back as duplicates and add nothing."""
    first_seen: dict[str, int] = {}
    repeats: list[int] = []
    for index, event in enumerate(events):
        if event.event_id in first_seen:
            repeats.append(index)
        else:
            first_seen[event.event_id] = index
    if not first_seen:
        return RecordResult(duplicates=repeats)

    keys = {identity_key(events[i].user) for i in first_seen.values()}
    identities = {key: db.identity_ids[key] for key in keys if key in db.identity_ids}
    with db.write() as conn:
        identities.update(resolve_identities(conn, keys - identities.keys(), now))
        rows = [
            _event_row(integration_id, events[i], identities, db, now)
            for _, i in sorted(first_seen.items())
        ]
        stored = insert_new_events(conn, rows)
        add_to_daily(conn, [row for row in rows if row["event_id"] in stored], EVENTS_ORIGIN)
        if stored:
            conn.execute(
                update(IntegrationRow)
                .where(IntegrationRow.id == integration_id)
                .values(last_event_at=now)
            )
    db.identity_ids.update(identities)  # only once committed: the rows surely exist

    accepted = sorted(first_seen[event_id] for event_id in stored)
    duplicates = sorted(repeats + [i for e, i in first_seen.items() if e not in stored])
    return RecordResult(accepted=accepted, duplicates=duplicates)


def add_to_daily(conn: Connection, rows: Sequence[dict[str, Any]], origin: str) -> None:
    """Add event-shaped rows to the daily rollup, summing first so each key is one upsert."""
    totals: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["identity_id"], row["day"], row["tool"], row["kind"], origin)
        acc = totals.get(key)
        if acc is None:
            totals[key] = acc = dict(zip(DAILY_KEY, key, strict=True))
            acc.update({name: row[name] for name in SUMS if name != "events"}, events=1)
            continue
        acc["requests"] += row["requests"]
        acc["input_tokens"] += row["input_tokens"]
        acc["output_tokens"] += row["output_tokens"]
        acc["events"] += 1
        for name in NULLABLE_SUMS:
            if row[name] is not None:
                acc[name] = row[name] if acc[name] is None else acc[name] + row[name]
    # A fixed order keeps concurrent PostgreSQL writers from deadlocking on rollup rows.
    upsert_daily(conn, [totals[key] for key in sorted(totals)], replace=False)


def _event_row(
    integration_id: int,
    event: UsageEvent,
    identities: dict[IdentityKey, int],
    db: Database,
    now: datetime,
) -> dict[str, Any]:
    return {
        "integration_id": integration_id,
        "event_id": event.event_id,
        "identity_id": identities[identity_key(event.user)],
        "occurred_at": event.occurred_at,
        "day": event.occurred_at.astimezone(db.tz).date(),
        "tool": event.tool,
        "kind": event.kind,
        "model": event.model,
        "requests": event.requests,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "suggestions_shown": event.suggestions_shown,
        "suggestions_accepted": event.suggestions_accepted,
        "lines_accepted": event.lines_accepted,
        "cost_usd": event.cost_usd,
        "attributes": event.attributes,
        "received_at": now,
    }
