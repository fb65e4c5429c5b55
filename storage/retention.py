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
from storage.models import DailyRow, EventRow, IntegrityFlagRow, OtlpSeriesRow, TeamMemberRow
from storage.owed_replies import ANSWERED
from storage.post_models import AuditRow, JobRunRow, OutboxRow, OwedReplyRow
from storage.weekly import prune_weekly

BATCH = 1000  # bench/prune.py: a batch takes tens of milliseconds on either database


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Rows before these are deleted; None keeps that kind forever. Days are local days."""

    raw_before: date | None
    rollup_before: date | None
    otlp_before: datetime | None
    audit_before: datetime | None
    # Team spells that ended before this: no kept week is summed over them any more.
    team_spells_before: datetime | None = None
    # Tables that grow with time rather than with people: each gets a bound of its own.
    job_runs_before: datetime | None = None  # claims of scheduled runs due before this
    outbox_before: datetime | None = None  # posts delivered or cancelled before this
    refusals_before: datetime | None = None  # audit entries of refused commands
    refusals_kept: int | None = None  # and at most this many of them, the newest
    owed_replies_before: datetime | None = None  # replies owed since before this (URL dead)


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
    if cutoffs.team_spells_before is not None:
        ended = TeamMemberRow.until.is_not(None) & (
            TeamMemberRow.until < cutoffs.team_spells_before
        )
        plan.append(("team_spells", TeamMemberRow, ended))
    if cutoffs.otlp_before is not None:
        plan.append(("otlp_series", OtlpSeriesRow, OtlpSeriesRow.updated_at < cutoffs.otlp_before))
    if cutoffs.audit_before is not None:
        plan.append(("audit", AuditRow, AuditRow.at < cutoffs.audit_before))
    if cutoffs.outbox_before is not None:
        closed = OutboxRow.status != "pending"  # an owed post is kept until it is delivered
        plan.append(("outbox", OutboxRow, closed & (OutboxRow.done_at < cutoffs.outbox_before)))
    if cutoffs.owed_replies_before is not None:
        # A row the re-drive answered is a fence, no reply owed: it goes uncounted (below),
        # as `drop_born_before` drops it, so the count is of replies that never went.
        born = OwedReplyRow.created_at < cutoffs.owed_replies_before
        plan.append(("owed_replies", OwedReplyRow, born & (OwedReplyRow.holder != ANSWERED)))
    refused = AuditRow.outcome == "refused"
    if cutoffs.refusals_before is not None:
        plan.append(("refusals", AuditRow, refused & (AuditRow.at < cutoffs.refusals_before)))
    kinds = "events daily flags team_spells otlp_series audit refusals outbox job_runs owed_replies"
    counts = dict.fromkeys(kinds.split(), 0)
    if cutoffs.raw_before is not None:
        # On PostgreSQL, whole months go as partitions first; the batches take the rest.
        counts["events"] = drop_months_before(db, cutoffs.raw_before)
    for name, model, condition in plan:
        counts[name] += _delete_in_batches(db, model, condition, batch, on_batch)
    if cutoffs.owed_replies_before is not None:
        fences = (OwedReplyRow.created_at < cutoffs.owed_replies_before) & (
            OwedReplyRow.holder == ANSWERED
        )
        _delete_in_batches(db, OwedReplyRow, fences, batch, on_batch)
    if cutoffs.rollup_before is not None:
        prune_weekly(db, cutoffs.rollup_before)  # the weekly sums go with the daily rows
    if cutoffs.refusals_kept is not None:
        with db.read() as conn:
            oldest_kept = conn.scalar(
                select(AuditRow.id)
                .where(refused)
                .order_by(AuditRow.id.desc())
                .offset(cutoffs.refusals_kept)
                .limit(1)
            )
        if oldest_kept is not None:
            beyond = refused & (AuditRow.id <= oldest_kept)
            counts["refusals"] += _delete_in_batches(db, AuditRow, beyond, batch, on_batch)
    if cutoffs.job_runs_before is not None:
        counts["job_runs"] = _delete_job_runs(db, cutoffs.job_runs_before, batch, on_batch)
    return counts


def _delete_job_runs(
    db: Database, before: datetime, batch: int, on_batch: Callable[[], None] | None
) -> int:
    """Job runs have no id column (job and due time are the key): batch per job."""
    deleted = 0
    with db.read() as conn:
        jobs = list(conn.scalars(select(JobRunRow.job).distinct().order_by(JobRunRow.job)))
    for job in jobs:
        while True:
            with db.write() as conn:
                due = list(
                    conn.scalars(
                        select(JobRunRow.due_at)
                        .where(JobRunRow.job == job, JobRunRow.due_at < before)
                        .order_by(JobRunRow.due_at)
                        .limit(batch)
                    )
                )
                if due:
                    deleted += conn.execute(
                        delete(JobRunRow).where(JobRunRow.job == job, JobRunRow.due_at.in_(due))
                    ).rowcount
            if on_batch is not None:
                on_batch()
            if len(due) < batch:
                break
    return deleted


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
                # What this statement deleted, not what the select found: another prune (or
                # a settled owed reply's own delete) may have taken some of them meanwhile.
                deleted += conn.execute(delete(model).where(model.id.in_(ids))).rowcount
        if on_batch is not None:
            on_batch()
        if len(ids) < batch:
            return deleted
