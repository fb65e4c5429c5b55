"""OpenTelemetry sums: turning cumulative series into increases, and recording both
temporalities as usage events in one transaction with the series' last values. Everything
OTLP records goes to the rollup under its own origin (`storage.precedence`)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Connection, select

from storage.db import Database
from storage.dialect import insert_ignore
from storage.events import (
    identity_ids,
    identity_key,
    note_last_event,
    record_events,
    record_events_in,
)
from storage.figures import NAMES, is_whole
from storage.models import OtlpSeriesRow
from storage.precedence import OTLP_ORIGIN
from storage.privacy_door import retry_after_forget
from storage.records import RecordResult, UsageEvent

INT_FIGURES = tuple(name for name in NAMES if is_whole(name))


class SumPoint(Protocol):
    """What storage needs of a data point (see `bot.intake.otlp_payload.MetricPoint`);
    read-only, so frozen dataclasses match it."""

    @property
    def series_key(self) -> str: ...
    @property
    def start_ns(self) -> int: ...
    @property
    def time_ns(self) -> int: ...
    @property
    def value(self) -> float: ...
    @property
    def cumulative(self) -> bool: ...
    @property
    def figures(self) -> tuple[str, ...]: ...
    @property
    def template(self) -> UsageEvent: ...


@dataclasses.dataclass(slots=True)
class _State:
    start_ns: int
    time_ns: int
    value: float


def counted_from(state: _State | None, start_ns: int, time_ns: int, value: float) -> float | None:
    """The value a cumulative point's increase is counted from: the series' last one, or 0
    for a new series or a restart (a drop or a new start); None when the point is a resend,
    out of order, or from an older run of the series."""
    if state is None or state.time_ns == 0:
        return 0.0
    if start_ns > state.start_ns:
        return 0.0
    if start_ns < state.start_ns or time_ns <= state.time_ns:
        return None
    return state.value if value >= state.value else 0.0


def whole_increase(base: float, value: float) -> int:
    """A whole-number figure's increase from `base` to `value`: the step between the rounded
    running totals, so a counter climbing by fractions (0.4, 0.8 … 4.0) adds up to its
    rounded total instead of each step rounding to nothing."""
    return round(value) - round(base)


def record_log_events(
    db: Database, integration_id: int, events: Sequence[UsageEvent], now: datetime
) -> RecordResult:
    """Record the usage events mapped from OTLP log records, under OTLP's origin."""
    return record_events(db, integration_id, events, now, OTLP_ORIGIN)


def record_sum_points(
    db: Database, integration_id: int, points: Sequence[SumPoint], now: datetime
) -> RecordResult:
    """Record sum points as usage events; for cumulative series only their increase counts,
    and the series' last values move in the same transaction as the events."""
    return retry_after_forget(db, now, lambda: _record_sum_points(db, integration_id, points, now))


def _record_sum_points(
    db: Database, integration_id: int, points: Sequence[SumPoint], now: datetime
) -> RecordResult:
    identities = identity_ids(db, {identity_key(p.template.user) for p in points}, now)
    # A forgotten person's points are dropped before their series state is touched.
    points = [p for p in points if identity_key(p.template.user) in identities]
    with db.write() as conn:
        keys = sorted({p.series_key for p in points if p.cumulative})
        states = _lock_states(conn, integration_id, keys)
        missing = [key for key in keys if key not in states]
        if missing:
            # Claim a row per new series, then lock it: two exports of one new series at
            # once then queue instead of both counting from zero.
            conn.execute(
                insert_ignore(conn, OtlpSeriesRow),
                [
                    {
                        "integration_id": integration_id,
                        "series_key": key,
                        "start_time_unix_nano": 0,
                        "last_time_unix_nano": 0,
                        "last_value": 0.0,
                        "updated_at": now,
                    }
                    for key in missing
                ],
            )
            states.update(_lock_states(conn, integration_id, missing))

        events: list[UsageEvent] = []
        changed: set[str] = set()
        for point in sorted(points, key=lambda p: (p.series_key, p.start_ns, p.time_ns)):
            base = 0.0
            if point.cumulative:
                state = states.get(point.series_key)
                counted = counted_from(state, point.start_ns, point.time_ns, point.value)
                if counted is None:
                    continue
                base = counted
                states[point.series_key] = _State(point.start_ns, point.time_ns, point.value)
                changed.add(point.series_key)
            event = _event(point, base)
            if event is not None:
                events.append(event)

        if changed:
            _save_states(conn, integration_id, {key: states[key] for key in sorted(changed)}, now)
        result = record_events_in(conn, db, integration_id, events, identities, now, OTLP_ORIGIN)
    if result.accepted:
        note_last_event(db, integration_id, now)
    return result


def _lock_states(conn: Connection, integration_id: int, keys: list[str]) -> dict[str, _State]:
    """The series' last values, locked (on PostgreSQL) until the transaction ends."""
    table = OtlpSeriesRow.__table__.c
    states: dict[str, _State] = {}
    for chunk in range(0, len(keys), 500):
        rows = conn.execute(
            select(
                table.series_key,
                table.start_time_unix_nano,
                table.last_time_unix_nano,
                table.last_value,
            )
            .where(
                table.integration_id == integration_id,
                table.series_key.in_(keys[chunk : chunk + 500]),
            )
            .order_by(table.series_key)
            .with_for_update()
        )
        for key, start, last_time, last_value in rows:
            states[key] = _State(start, last_time, last_value)
    return states


def _save_states(
    conn: Connection, integration_id: int, states: dict[str, _State], now: datetime
) -> None:
    """Move each series to its new last point. Every row exists and is locked by now, so a
    plain UPDATE per series does; written as driver SQL because Core's per-row parameter
    handling cost more than the statement itself here."""
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    stamp = f"{now.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}" if mark == "?" else now
    conn.exec_driver_sql(
        f"UPDATE otlp_series SET start_time_unix_nano = {mark}, last_time_unix_nano = {mark}, "
        f"last_value = {mark}, updated_at = {mark} "
        f"WHERE integration_id = {mark} AND series_key = {mark}",
        [
            (state.start_ns, state.time_ns, state.value, stamp, integration_id, key)
            for key, state in states.items()
        ],
    )


def _event(point: SumPoint, base: float) -> UsageEvent | None:
    """The point's template with its increase over `base` in the fields it feeds, or None when
    it adds nothing (a whole-number figure whose rounded total did not move: its fraction
    carries to the next point). The event id comes from the series and the point's times, so
    a resent export is a duplicate."""
    amount = point.value - base
    if amount <= 0:
        return None
    figures: dict[str, object] = {}
    attributes = dict(point.template.attributes or {})
    for name in point.figures:
        if name == "value":
            attributes["value"] = amount
        elif not is_whole(name):
            figures[name] = amount
        else:
            assert name in INT_FIGURES, name
            figures[name] = whole_increase(base, point.value)
    if figures and not any(figures.values()):
        return None
    digest = hashlib.sha256(
        f"{point.series_key}/{point.start_ns}/{point.time_ns}".encode()
    ).hexdigest()
    return dataclasses.replace(
        point.template,
        event_id=f"otlp:{digest[:48]}",
        attributes=attributes or None,
        **figures,  # type: ignore[arg-type]
    )
