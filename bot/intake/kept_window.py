"""Usage older than retention keeps is refused at the door: once its raw row (or an OTLP
series' state) is pruned, a resend of it could no longer be told from new usage, and would
count twice."""

from __future__ import annotations

from datetime import UTC, datetime
from operator import attrgetter

from bot.intake.event_batch import ParsedBatch, Rejection
from bot.intake.otlp_payload import MappedLogs, MappedMetrics

RAW = "AIUSAGE_RAW_RETENTION_DAYS"
SERIES = "AIUSAGE_RAW_RETENTION_DAYS, AIUSAGE_OTLP_RETENTION_DAYS"


_moment = attrgetter("occurred_at")


def too_old(since: datetime, settings: str = RAW) -> str:
    """Why usage before `since` is refused; `settings` name the retention that sets it."""
    return (
        f"occurred_at is before {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC, older than "
        f"aiusage keeps raw usage ({settings}): a resend of it could not be told from new "
        "usage"
    )


def within_events(batch: ParsedBatch, since: datetime | None) -> ParsedBatch:
    """`batch` with its events before `since` moved to its rejections, by their index."""
    if since is None or not batch.events or min(map(_moment, batch.events)) >= since:
        return batch
    events, positions, rejected = [], [], list(batch.rejected)
    for event, position in zip(batch.events, batch.positions, strict=True):
        if event.occurred_at >= since:
            events.append(event)
            positions.append(position)
        else:
            rejected.append(Rejection(position, event.event_id, too_old(since)))
    rejected.sort(key=lambda r: r.index)
    return ParsedBatch(events, positions, rejected)


def within_points(mapped: MappedMetrics, since: datetime | None) -> MappedMetrics:
    """`mapped` less its points before `since`, counted as rejected."""
    if since is None:
        return mapped
    limit = int(since.timestamp()) * 10**9
    kept = [point for point in mapped.points if point.time_ns >= limit]
    if len(kept) == len(mapped.points):
        return mapped
    dropped = len(mapped.points) - len(kept)
    error = f"{dropped} refused: {too_old(since, SERIES)}"
    return MappedMetrics(kept, mapped.rejected + dropped, [*mapped.errors, error])


def within_records(mapped: MappedLogs, since: datetime | None) -> MappedLogs:
    """`mapped` less its records before `since`, counted as rejected."""
    if since is None:
        return mapped
    kept = [event for event in mapped.events if event.occurred_at >= since]
    if len(kept) == len(mapped.events):
        return mapped
    dropped = len(mapped.events) - len(kept)
    error = f"{dropped} refused: {too_old(since)}"
    return MappedLogs(kept, mapped.rejected + dropped, [*mapped.errors, error])
