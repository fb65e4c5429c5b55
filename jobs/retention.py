"""Retention: when each kind of stored data is past its age. Pure rules, plus the daily run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from jobs.teams import members_moment
from jobs.weeks import local_day, week_of
from storage.db import Database
from storage.event_partitions import ensure_month_partitions
from storage.retention import Cutoffs, prune

log = logging.getLogger(__name__)


# Bounds for what grows with time, not with people. Fixed, not settings: nobody reads these
# rows after them. A job's due time is claimed, run and done within minutes (the scheduler's
# misfire grace is far shorter than a week); a delivered post is found again through `posts`,
# which stays; refusals are what any workspace member can produce at will.
JOB_RUN_DAYS = 7
OUTBOX_CLOSED_DAYS = 90
REFUSAL_DAYS = 90
MAX_REFUSALS = 100_000
# Slack takes replies through a command's response_url for 30 minutes; an owed reply older
# than that can never be sent (the re-drive drops them every minute while `serve` runs).
OWED_REPLY_MINUTES = 30


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """Days each kind is kept; 0 keeps it forever. Days are counted in `tz`."""

    tz: ZoneInfo
    raw_days: int = 90
    rollup_days: int = 730
    otlp_days: int = 35
    audit_days: int = 730


def cutoffs(config: RetentionConfig, now: datetime) -> Cutoffs:
    """Events and daily figures are cut by local day, so a DST change never moves the line
    by an hour; series state and audit entries by elapsed time."""
    today = local_day(now, config.tz)
    rollup_before = today - timedelta(days=config.rollup_days) if config.rollup_days else None
    # The week the rollup cut falls in is still summed (its kept days), over the members it
    # had as it started: a spell that ended after that moment still counts.
    team_spells_before = (
        members_moment(week_of(rollup_before), config.tz) if rollup_before is not None else None
    )
    return Cutoffs(
        raw_before=today - timedelta(days=config.raw_days) if config.raw_days else None,
        rollup_before=rollup_before,
        otlp_before=now - timedelta(days=config.otlp_days) if config.otlp_days else None,
        audit_before=now - timedelta(days=config.audit_days) if config.audit_days else None,
        team_spells_before=team_spells_before,
        job_runs_before=now - timedelta(days=JOB_RUN_DAYS),
        outbox_before=now - timedelta(days=OUTBOX_CLOSED_DAYS),
        refusals_before=now - timedelta(days=REFUSAL_DAYS),
        refusals_kept=MAX_REFUSALS,
        owed_replies_before=now - timedelta(minutes=OWED_REPLY_MINUTES),
    )


def raw_kept_since(config: RetentionConfig, now: datetime) -> datetime | None:
    """The first moment whose raw events retention keeps (the local midnight its cutoff
    day starts at), or None when they are kept forever."""
    before = cutoffs(config, now).raw_before
    return None if before is None else datetime.combine(before, time(), config.tz)


def series_kept_since(config: RetentionConfig, now: datetime) -> datetime | None:
    """The first moment an OTLP point may carry: a cumulative series' state is kept only
    so long, and its raw points only as long as raw events."""
    raw = raw_kept_since(config, now)
    state = now - timedelta(days=config.otlp_days) if config.otlp_days else None
    return max((m for m in (raw, state) if m is not None), default=None)


def apply_retention(db: Database, config: RetentionConfig, now: datetime) -> dict[str, int]:
    """Delete what is past its age now, and make the coming months' raw event partitions
    (PostgreSQL); returns the counts per kind."""
    ensure_month_partitions(db, local_day(now, config.tz))
    counts = prune(db, cutoffs(config, now))
    if any(counts.values()):
        log.info("retention deleted %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts
