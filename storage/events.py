"""Recording usage events and keeping the daily rollup in step, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, update

from storage.db import Database
from storage.dialect import insert, insert_ignore
from storage.models import DailyRow, EventRow, IntegrationRow
from storage.people import IdentityKey, resolve_identities
from storage.records import RecordResult, UsageEvent, UserRef

EVENTS_ORIGIN = "events"
NULLABLE_SUMS = ("suggestions_shown", "suggestions_accepted", "lines_accepted", "cost_usd")
SUMS = ("requests", "input_tokens", "output_tokens", *NULLABLE_SUMS, "events")
DAILY_KEY = ("identity_id", "day", "tool", "kind", "origin")


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

    with db.write() as conn:
        identities = resolve_identities(
            conn, (identity_key(events[i].user) for i in first_seen.values()), now
        )
        rows = [
            _event_row(integration_id, events[i], identities, db, now)
            for _, i in sorted(first_seen.items())
        ]
        stored = _insert_new(conn, rows)
        add_to_daily(conn, [row for row in rows if row["event_id"] in stored], EVENTS_ORIGIN)
        if stored:
            conn.execute(
                update(IntegrationRow)
                .where(IntegrationRow.id == integration_id)
                .values(last_event_at=now)
            )

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
    if not totals:
        return
    stmt = insert(conn, DailyRow)
    table = DailyRow.__table__.c
    stmt = stmt.on_conflict_do_update(
        index_elements=list(DAILY_KEY),
        set_={
            name: (
                # keep "nobody reported this" as NULL until someone does
                func.coalesce(table[name] + stmt.excluded[name], table[name], stmt.excluded[name])
                if name in NULLABLE_SUMS
                else table[name] + stmt.excluded[name]
            )
            for name in SUMS
        },
    )
    conn.execute(stmt, [totals[key] for key in sorted(totals)])


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert, skipping event_ids already stored; returns the event_ids that went in."""
    if not rows:
        return set()
    stmt = insert_ignore(conn, EventRow).returning(EventRow.event_id)
    return set(conn.execute(stmt, rows).scalars())


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
