"""Deleting what is past its age, a bounded batch per short transaction, so a busy database
is never locked for long and the deletes can be stopped and resumed at any point. On
PostgreSQL, raw events of whole past months go by dropping their partition instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select

from storage.db import Database
from storage.event_partitions import drop_months_before
from storage.models import AuditRow, DailyRow, EventRow, IntegrityFlagRow, OtlpSeriesRow

BATCH = 1000  # bench/prune.py: a batch takes tens of milliseconds on either database


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows before these are deleted; None keeps that kind forever. Days are local days."""

    raw_before: date | None
    rollup_before: date | None
    otlp_before: datetime | None
    audit_before: datetime | None


def prune(
    db: Database,
    cutoffs: Cutoffs,
    *,
    batch: int = BATCH,
    on_batch: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Delete everything past its cutoff; returns how many rows of each kind went."""
    plan: list[tuple[str, Any, Any]] = []
    if cutoffs.raw_before is not None:
        plan.append(("events", EventRow, EventRow.day < cutoffs.raw_before))
    if cutoffs.rollup_before is not None:
        plan.append(("daily", DailyRow, DailyRow.day < cutoffs.rollup_before))
        plan.append(
            ("flags", IntegrityFlagRow, IntegrityFlagRow.week_start < cutoffs.rollup_before)
        )
    if cutoffs.otlp_before is not None:
        plan.append(("otlp_series", OtlpSeriesRow, OtlpSeriesRow.updated_at < cutoffs.otlp_before))
    if cutoffs.audit_before is not None:
        plan.append(("audit", AuditRow, AuditRow.at < cutoffs.audit_before))
    counts = {"events": 0, "daily": 0, "flags": 0, "otlp_series": 0, "audit": 0}
    if cutoffs.raw_before is not None:
        # On PostgreSQL, whole months go as partitions first; the batches take the rest.
        counts["events"] = drop_months_before(db, cutoffs.raw_before)
    for name, model, condition in plan:
        counts[name] += _delete_in_batches(db, model, condition, batch, on_batch)
    return counts


def _delete_in_batches(
    db: Database, model: Any, condition: Any, batch: int, on_batch: Callable[[], None] | None
) -> int:
    deleted = 0
    while True:
        with db.write() as conn:
            ids = list(
                conn.scalars(select(model.id).where(condition).order_by(model.id).limit(batch))
            )
            if ids:
                conn.execute(delete(model).where(model.id.in_(ids)))
        deleted += len(ids)
        if on_batch is not None:
            on_batch()
        if len(ids) < batch:
            return deleted
