"""Pulling vendors' usage on a schedule: which days to fetch, writing each fetched day through
the same path as `aiusage import`, and keeping each connector's state. One connector failing
never stops the others."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol, TypeVar, cast

from jobs.connector_items import Batch, ConnectorError, TeamMembers
from storage.bounds import within_bounds
from storage.connectors import DayWriter, connector_states, record_failure, record_success
from storage.coordination import one_writer_of_report
from storage.db import Database
from storage.imports import ReplacedKey
from storage.records import BadRow, ReportDay

log = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK_ROWS = 5000  # a day of a large org in one transaction: fewer round trips
# A connector that has never run starts this many days back; `connectors sync --since`
# reaches further for a first backfill.
FIRST_SYNC_DAYS = 28
# How long the writer waits for the next fetched day before committing the days it holds:
# a fetching process that parses a day in a few hundred milliseconds keeps a group together
# (its days then share one pass through the rollup's index), while a vendor slow to answer
# never keeps the write lock more than this much longer.
PATIENCE = 0.5


class Connector(Protocol):
    """One vendor, a far-side client: it fetches and parses, and never writes. `name` is also
    the source its figures are stored under."""

    name: str

    def batches(self, first: date, last: date) -> Iterator[Batch | TeamMembers]: ...

    def close(self) -> None: ...


@dataclass
class SyncResult:
    name: str
    ok: bool
    first: date | None = None
    last: date | None = None
    days: int = 0
    rows: int = 0
    rejected: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def sync_range(
    last_day: date | None,
    lookback_days: int,
    today: date,
    since: date | None = None,
    until: date | None = None,
) -> tuple[date, date]:
    """The vendor days to fetch, both ends included: by default from the last day fetched
    less the look-back (the last `lookback_days` fetched days again, since vendors revise
    them) up to yesterday. The range may be empty (first > last). It never ends after
    today: a future day fetched would be recorded as the last day fetched, and every later
    pull would find nothing to fetch until the calendar caught up (the command line
    refuses such an --until; this holds for every caller)."""
    last = min(until, today) if until else today - timedelta(days=1)
    if since is not None:
        return since, last
    if last_day is None:
        return last - timedelta(days=FIRST_SYNC_DAYS - 1), last
    return last_day + timedelta(days=1) - timedelta(days=lookback_days), last


def sync_one(
    db: Database,
    connector: Connector,
    clock: Callable[[], datetime],
    lookback_days: int,
    since: date | None = None,
    until: date | None = None,
) -> SyncResult:
    """Run one connector over its range; every failure is caught, logged and stored. Another
    sync of it, or an import of its report, running meanwhile is waited for: the range is
    read once it is done."""

    def waiting() -> None:
        log.info("connector %s: waiting for another sync or import of it to finish", connector.name)

    with one_writer_of_report(db, connector.name, None, waiting):
        return _sync_one(db, connector, clock, lookback_days, since, until)


def _sync_one(
    db: Database,
    connector: Connector,
    clock: Callable[[], datetime],
    lookback_days: int,
    since: date | None,
    until: date | None,
) -> SyncResult:
    state = connector_states(db).get(connector.name)
    today = clock().date()
    first, last = sync_range(state.last_day if state else None, lookback_days, today, since, until)
    result = SyncResult(connector.name, ok=True, first=first, last=last)
    if first > last:
        record_success(db, connector.name, 0, clock())
        return result
    try:
        with DayWriter(db, connector.name) as writer:
            # The connector fetches the next batch on a thread of its own while this one is
            # written; the days written so far are committed before waiting for it, so no
            # write lock is held while the vendor answers.
            batches = connector.batches(first, last)
            for batch in one_ahead(batches, before_waiting=writer.commit, patience=PATIENCE):
                if isinstance(batch, TeamMembers):
                    writer.teams(batch.day, batch.members)
                    continue
                _write(writer, connector.name, batch, result, clock, today)
                result.days += len(batch.days)
                writer.day_done(max(batch.days), clock())
    except ConnectorError as exc:
        result.ok, result.error = False, str(exc)
    except Exception as exc:  # a bug or an unforeseen answer: still one connector's failure
        log.exception("connector %s failed unexpectedly", connector.name)
        result.ok, result.error = False, f"unexpected error: {type(exc).__name__}"
    if result.ok:
        record_success(db, connector.name, result.rows, clock())
        log.info(
            "connector %s: %d rows for %d days (%s to %s), %d rejected",
            connector.name,
            result.rows,
            result.days,
            first,
            last,
            result.rejected,
        )
    else:
        assert result.error is not None
        record_failure(db, connector.name, result.error, clock())
        log.error("connector %s failed: %s", connector.name, result.error)
    return result


def sync_all(
    db: Database,
    connectors: Sequence[Connector],
    clock: Callable[[], datetime],
    lookback_days: int,
    since: date | None = None,
    until: date | None = None,
) -> list[SyncResult]:
    """Each connector in turn; a failure is recorded and the next one still runs."""
    return [sync_one(db, c, clock, lookback_days, since, until) for c in connectors]


def sync_connectors(
    db: Database,
    factories: Sequence[tuple[str, Callable[[], Connector]]],
    clock: Callable[[], datetime],
    lookback_days: int,
    since: date | None = None,
    until: date | None = None,
) -> list[SyncResult]:
    """Build, run and close each connector in turn, each isolated from the rest: one that
    cannot even be built (say, AWS settings boto3 refuses) fails alone, recorded as such."""
    results: list[SyncResult] = []
    for name, factory in factories:
        try:
            connector = factory()
        except Exception as exc:
            error = f"could not start: {type(exc).__name__}: {exc}"[:300]
            record_failure(db, name, error, clock())
            log.error("connector %s failed: %s", name, error)
            results.append(SyncResult(name, ok=False, error=error))
            continue
        try:
            results += sync_all(db, [connector], clock, lookback_days, since, until)
        finally:
            connector.close()
    return results


def one_ahead(
    items: Iterator[T], before_waiting: Callable[[], None], patience: float = 0.0
) -> Iterator[T]:
    """`items`, each next one made on a worker thread while the caller handles the last;
    `before_waiting` is called whenever the next one is not ready within `patience` seconds."""
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="connector-fetch") as pool:
        pending = pool.submit(next, items, done)
        try:
            while True:
                if not pending.done():
                    try:
                        pending.result(timeout=patience)
                    except FuturesTimeout:
                        before_waiting()
                item = pending.result()
                if item is done:
                    return
                pending = pool.submit(next, items, done)
                yield cast(T, item)
        finally:
            pending.cancel()


def _write(
    writer: DayWriter,
    source: str,
    batch: Batch,
    result: SyncResult,
    clock: Callable[[], datetime],
    today: date,
) -> None:
    """Store a batch in chunks; the first chunk clears the batch's days. A record outside the
    bounds every door keeps (`storage.bounds.within_bounds`: who it names, which day) is
    rejected by its number, as `aiusage import` rejects it, and the rest stored. A prepared
    batch was checked where it was prepared (`bot.connectors.copilot_child`)."""
    replaced: set[ReplacedKey] = set()
    if batch.prepared is not None:
        for item in batch.items:
            _rejected(source, item, result)
        result.rows += batch.prepared.records
        writer.write(batch.prepared, replaced, clock(), batch.days)
        return
    chunk: list[ReportDay] = []
    days, add_up = batch.days, batch.add_up
    written = False
    repeated = 0
    for parsed in batch.items:
        item = parsed if isinstance(parsed, BadRow) else within_bounds(parsed, today)
        if isinstance(item, BadRow):
            _rejected(source, item, result)
            continue
        chunk.append(item)
        result.rows += 1
        if len(chunk) >= CHUNK_ROWS:
            repeated += len(writer.write(chunk, replaced, clock(), days, add_up=add_up))
            chunk, written = [], True
    # A last chunk, unless it would be an empty transaction (and a disk flush) for a batch
    # whose days an earlier chunk already cleared; an empty batch still clears its days.
    if chunk or not written:
        repeated += len(writer.write(chunk, replaced, clock(), days, add_up=add_up))
    if repeated:
        log.warning(
            "connector %s: %d records named a person and day an earlier record named; the "
            "later counts, as `aiusage import` keeps it",
            source,
            repeated,
        )


def _rejected(source: str, item: ReportDay | BadRow, result: SyncResult) -> None:
    if isinstance(item, BadRow):
        result.rejected += 1
        log.warning("connector %s: record %d skipped: %s", source, item.line, item.error)
