"""Recording usage events and keeping the daily rollup in step, in one transaction.

The path every door takes once its parser has validated the input, each step once and in
this order: resolve identities (`identity_ids`, before any lock), then write the new events
and add exactly those to the rollup (`storage.bulk.insert_new_events`, one transaction).
Vendor imports take the same first step, then write the rollup only (`storage.imports`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, update

from storage.bounds import COST_DAY_CAP, DAY_CAP
from storage.bulk import DAILY_KEY, insert_new_events
from storage.db import Database
from storage.event_rows import event_tuples
from storage.figures import COUNTED, NAMES, REPORTED, is_whole
from storage.models import IntegrationRow
from storage.people import IdentityKey
from storage.precedence import API_ORIGIN
from storage.privacy_door import (
    drop_forgotten,
    notice_forgets,
    resolve_unforgotten,
    retry_after_forget,
)
from storage.records import RecordResult, UsageEvent
from storage.report_rows import identity_key

LAST_EVENT_RESOLUTION = timedelta(seconds=30)
SUMS = (*NAMES, "events")


def record_events(
    db: Database,
    integration_id: int,
    events: Sequence[UsageEvent],
    now: datetime,
    origin: str = API_ORIGIN,
) -> RecordResult:
    """Store a batch. Positions whose event_id this integration already sent, in an earlier
    batch or earlier in this one, come back as duplicates and add nothing. `origin` names
    the door in the rollup (`storage.precedence`): the HTTP API's unless told otherwise."""
    return retry_after_forget(
        db, now, lambda: _record_events(db, integration_id, events, now, origin)
    )


def _record_events(
    db: Database, integration_id: int, events: Sequence[UsageEvent], now: datetime, origin: str
) -> RecordResult:
    first_seen, repeats = _first_seen(events)
    if not first_seen:
        return RecordResult(duplicates=repeats)
    keys = _keys(events, first_seen)
    identities = identity_ids(db, set(keys.values()), now)
    batch = _Batch(db, integration_id, events, first_seen, keys, repeats, identities, now, origin)
    if batch.prepared:
        with db.write() as conn:
            batch.store(conn)
        if batch.stored:
            note_last_event(db, integration_id, now)
    return batch.result()


def record_events_in(
    conn: Connection,
    db: Database,
    integration_id: int,
    events: Sequence[UsageEvent],
    identities: dict[IdentityKey, int],
    now: datetime,
    origin: str = API_ORIGIN,
) -> RecordResult:
    """`record_events` inside a write transaction the caller holds, so other state (such as
    the last value of an OpenTelemetry series) commits or rolls back with the events.
    `identities` come from `identity_ids`, called before the caller took the lock."""
    first_seen, repeats = _first_seen(events)
    keys = _keys(events, first_seen)
    batch = _Batch(db, integration_id, events, first_seen, keys, repeats, identities, now, origin)
    batch.store(conn)
    return batch.result()


def _first_seen(events: Sequence[UsageEvent]) -> tuple[dict[str, int], list[int]]:
    """Each event_id's first position, and the positions that repeat one earlier."""
    first_seen: dict[str, int] = {}
    repeats: list[int] = []
    for index, event in enumerate(events):
        if event.event_id in first_seen:
            repeats.append(index)
        else:
            first_seen[event.event_id] = index
    return first_seen, repeats


def _keys(events: Sequence[UsageEvent], first_seen: dict[str, int]) -> dict[int, IdentityKey]:
    """The identity key of each first-seen position, worked out once a batch."""
    return {i: identity_key(events[i].user) for i in first_seen.values()}


class _Batch:
    """A batch's event rows, built before any lock is taken, and what became of them."""

    def __init__(
        self,
        db: Database,
        integration_id: int,
        events: Sequence[UsageEvent],
        first_seen: dict[str, int],
        keys: dict[int, IdentityKey],
        repeats: list[int],
        identities: dict[IdentityKey, int],
        now: datetime,
        origin: str,
    ) -> None:
        self.origin = origin
        self.first_seen, self.dropped = drop_forgotten(first_seen, keys.__getitem__, identities)
        self.repeats = repeats
        # In event_id order, as before: concurrent writers then meet rows in one order.
        positions = [(i, identities[keys[i]]) for _, i in sorted(self.first_seen.items())]
        self.prepared = event_tuples(
            db.dialect, integration_id, events, positions, db.local_days, now
        )
        self.stored: set[str] = set()

    def store(self, conn: Connection) -> None:
        """Insert the events not stored before and add those to the rollup."""
        self.stored = insert_new_events(conn, self.prepared, self.origin)

    def result(self) -> RecordResult:
        # Usage of a forgotten person counts as accepted: the sender did nothing wrong, and
        # a resend would be dropped again.
        first_seen, stored = self.first_seen, self.stored
        accepted = sorted([first_seen[event_id] for event_id in stored] + self.dropped)
        duplicates = sorted(self.repeats + [i for e, i in first_seen.items() if e not in stored])
        return RecordResult(accepted=accepted, duplicates=duplicates)


def rollup(rows: Sequence[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
    """Sum event-shaped rows (a vendor report's) per daily key, in key order: one upsert per
    key, and a fixed order that keeps concurrent PostgreSQL writers from deadlocking on rollup
    rows. Events are summed by the database as they go in (`storage.bulk`)."""
    totals: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["identity_id"], row["day"], row["tool"], row["kind"], origin)
        acc = totals.get(key)
        if acc is None:
            totals[key] = acc = dict(zip(DAILY_KEY, key, strict=True))
            acc.update({name: row[name] for name in SUMS if name != "events"}, events=1)
            continue
        for name in COUNTED:
            acc[name] += row[name]
        acc["events"] += 1
        for name in REPORTED:
            if row[name] is not None:
                acc[name] = row[name] if acc[name] is None else acc[name] + row[name]
    return [_capped(totals[key]) for key in sorted(totals)]


def _capped(row: dict[str, Any]) -> dict[str, Any]:
    """A rollup row's figures held at the caps the upsert keeps (see `storage.bounds`)."""
    for name in SUMS:
        value = row[name]
        if value is not None and value > (cap := DAY_CAP if is_whole(name) else COST_DAY_CAP):
            row[name] = cap
    return row


def identity_ids(db: Database, keys: set[IdentityKey], now: datetime) -> dict[IdentityKey, int]:
    """Ids for these identities, from the cache or, for new ones, a short transaction of
    their own; call it before taking the write lock."""
    notice_forgets(db, now)
    identities = db.identity_ids.get_many(keys)
    missing = keys - identities.keys()
    if missing:
        # Its own short transaction: an identity made for a batch that then fails is harmless.
        # Identities of forgotten people are left out, and so never made again.
        with db.write() as conn:
            found = resolve_unforgotten(conn, missing, now)
        db.identity_ids.update(found)
        identities.update(found)
    return identities


def note_last_event(db: Database, integration_id: int, now: datetime) -> None:
    """Mark the integration as heard from; call it after the events' transaction."""
    # Outside the batch's transaction and at most every half minute: one hot row updated by
    # every batch would make concurrent PostgreSQL writers queue on its lock.
    last = db.last_event_noted.get(integration_id)
    if last is not None and now - last < LAST_EVENT_RESOLUTION:
        return
    db.last_event_noted[integration_id] = now
    with db.write() as conn:
        conn.execute(
            update(IntegrationRow)
            .where(IntegrationRow.id == integration_id)
            .values(last_event_at=now)
        )
