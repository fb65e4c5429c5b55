"""Vendor reports into the daily rollup. Each report owns its origin, and the first time an
import meets a (origin, person, day) it clears what was there, so re-importing a file or an
overlapping one replaces figures instead of adding to them; a file naming one twice keeps
its later row, as importing the two rows one after the other would."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, delete, distinct, func, insert, or_, select, text

from storage.bounds import ABSENT
from storage.bulk import daily_day_form, upsert_daily_tuples
from storage.db import Database
from storage.events import identity_ids
from storage.figures import figures_of
from storage.models import DailyRow, WeeklyStaleRow
from storage.people import IdentityKey
from storage.privacy_door import retry_after_forget
from storage.records import ReportDay
from storage.report_rows import PreparedDays, add_part, identity_key, report_origin

ReplacedKey = tuple[str, int, date]  # origin, identity id, day
WHOLE_DAY = 0  # in place of an identity id: the whole day of that source was cleared
_KEY_COLUMNS = 5  # a rollup row's figures follow its key's five columns (DAILY_COLUMNS)
# A whole day replaced for at least this many people gets one whole-day weekly mark, which
# sums its week again for everyone, instead of a mark per person from the row triggers
# (about 3 µs a rollup row on SQLite). Fewer people: the week's re-sum reads theirs alone.
WHOLE_DAY_MARK_PEOPLE = 500


def replace_report_days(
    db: Database,
    source: str,
    integration: str | None,
    days: Sequence[ReportDay] | PreparedDays,
    replaced: set[ReplacedKey],
    now: datetime,
    *,
    whole_days: Collection[date] = (),
    add_up: bool = False,
) -> list[int]:
    """Store a chunk of a report (or whole days of it as rows, `storage.report_rows`) in
    one transaction. `replaced` holds the keys this import
    already cleared; it is updated, so a key spread over several chunks is cleared once.
    `whole_days` are days the caller holds complete (a connector's fetch): everything this
    source said of them before is cleared once, people since dropped from the day included,
    and their rows need no clearing one person at a time. Returns the lines of records that
    repeated a key this import had met (see `replace_in`, and its `add_up`)."""
    if not days and not whole_days:
        return []

    def attempt() -> tuple[set[ReplacedKey], list[int]]:
        # Works on a copy: a transaction retried after a concurrent forget clears again.
        cleared = set(replaced)
        repeated = _replace(
            db, source, integration, days, cleared, now, set(whole_days), add_up=add_up
        )
        return cleared, repeated

    cleared, repeated = retry_after_forget(db, now, attempt)
    replaced.update(cleared)
    return repeated


def _replace(
    db: Database,
    source: str,
    integration: str | None,
    days: Sequence[ReportDay] | PreparedDays,
    replaced: set[ReplacedKey],
    now: datetime,
    whole: set[date],
    *,
    add_up: bool,
) -> list[int]:
    # The same first step as every door: identities resolved (forgotten people left out)
    # before the write lock is taken.
    identities = identity_ids(db, keys_of(days), now)
    with db.write() as conn:
        return replace_in(
            conn, source, integration, days, identities, replaced, whole, add_up=add_up
        )


def keys_of(days: Sequence[ReportDay] | PreparedDays) -> set[IdentityKey]:
    """The identities a chunk names."""
    if isinstance(days, PreparedDays):
        return days.keys()
    return {identity_key(d.user) for d in days}


def replace_in(
    conn: Connection,
    source: str,
    integration: str | None,
    days: Sequence[ReportDay] | PreparedDays,
    identities: Mapping[IdentityKey, int],
    replaced: set[ReplacedKey],
    whole: Collection[date],
    *,
    deferred: list[list[tuple[Any, ...]]] | None = None,
    add_up: bool = False,
) -> list[int]:
    """`replace_report_days`' writes, in the caller's transaction, with the chunk's
    identities already resolved (a person missing from `identities` is forgotten: dropped).
    With `deferred`, prepared days' rows are appended to it instead of written: the caller
    writes them with others' in one pass (`upsert_deferred`) before it commits.

    A record is one row of the report: its (origin, person, day), the client being part of
    the origin. A record whose key this import has met already replaces the earlier one, in
    this chunk or an earlier one, and its line is returned: the contract keys figures so,
    and a file of two reports run together (`cat a b`) then gives what importing them one
    by one does. With `add_up`, a whole day's records of one key add up instead, as
    `prepare` then sums them: a report of several records a person and day (Claude Code's,
    one per terminal)."""
    base = report_origin(source, integration, None)
    whole = set(whole)
    fresh = sorted(day for day in whole if (base, WHOLE_DAY, day) not in replaced)
    people = days.records if isinstance(days, PreparedDays) else len(days)
    if fresh:
        replaced.update((base, WHOLE_DAY, day) for day in fresh)
        if conn.dialect.name == "sqlite" and people >= WHOLE_DAY_MARK_PEOPLE:
            # One mark for the whole day: the weekly triggers then skip its rows (0150).
            conn.execute(insert(WeeklyStaleRow), [{"day": day} for day in fresh])
        conn.execute(
            delete(DailyRow).where(
                DailyRow.day.in_(fresh),
                or_(
                    DailyRow.origin == base,
                    DailyRow.origin.startswith(f"{base}:", autoescape=True),
                ),
            )
        )
    if isinstance(days, PreparedDays):
        if set(days.days) - whole or (days.source, days.integration) != (source, integration):
            raise ValueError("prepared rows are of whole days of this report only")
        rows = _prepared_rows(conn, days, identities)
        if deferred is None:
            upsert_daily_tuples(conn, rows, replace=False, absent=ABSENT)
        else:
            deferred.append(rows)
        return []
    to_clear: dict[tuple[str, date], set[int]] = defaultdict(set)
    # Each rollup row in the rollup's column order (its day in `daily_day_form`), by its key.
    totals: dict[tuple[Any, ...], list[Any]] = {}
    origins: dict[str | None, str] = {}
    form = daily_day_form(conn.dialect.name)
    formed: dict[date, Any] = {}
    # The rollup keys of this chunk's record for each key met person by person, so that a
    # later record of that key can take its place.
    met: dict[ReplacedKey, list[tuple[Any, ...]]] = {}
    repeated: list[int] = []
    for item in days:
        identity_id = identities.get(identity_key(item.user))
        if identity_id is None:
            continue  # forgotten: dropped
        if (origin := origins.get(item.client)) is None:
            origin = origins[item.client] = report_origin(source, integration, item.client)
        day, tool = item.day, item.tool
        if (day_form := formed.get(day)) is None:
            day_form = formed[day] = form(day)
        mine: list[tuple[Any, ...]] | None = None
        # A whole day was cleared above; any other is cleared person by person, once, and
        # again when a record repeats a key an earlier chunk wrote.
        if day not in whole or not add_up:
            key = (origin, identity_id, day)
            if key not in replaced:
                replaced.add(key)
                if day not in whole:
                    to_clear[(origin, day)].add(identity_id)
            else:
                repeated.append(item.line)
                if (earlier := met.get(key)) is not None:
                    for daily_key in earlier:
                        totals.pop(daily_key, None)
                else:
                    to_clear[(origin, day)].add(identity_id)
            mine = met[key] = []
        for figures in item.figures:
            kind = figures.kind
            daily_key = (identity_id, day, tool, kind, origin)
            if mine is not None:
                mine.append(daily_key)
            if (acc := totals.get(daily_key)) is None:
                totals[daily_key] = [identity_id, day_form, tool, kind, origin,
                                     *figures_of(figures), 1]  # fmt: skip
            else:
                add_part(acc, figures_of(figures), _KEY_COLUMNS)
    for (origin, day), cleared_ids in sorted(to_clear.items()):
        conn.execute(
            delete(DailyRow).where(
                DailyRow.origin == origin,
                DailyRow.day == day,
                DailyRow.identity_id.in_(sorted(cleared_ids)),
            )
        )
    # One statement for every origin, in key order so concurrent writers cannot deadlock.
    upsert_daily_tuples(conn, [row for _, row in sorted(totals.items())], replace=False)
    return repeated


def upsert_deferred(
    conn: Connection, deferred: list[list[tuple[Any, ...]]], days: Collection[date]
) -> None:
    """Write the rows `replace_in` deferred for `days`, all in (identity, day) order: each
    person's part of the rollup's unique index (identity first) is then visited once for
    all the days, not once a day, which a page cache smaller than the index made a read and
    a write of every page again."""
    if len(deferred) == 1:
        rows = deferred[0]
    else:
        # Each list is in that order already; the sort merges the runs, and is stable.
        rows = sorted(chain.from_iterable(deferred), key=_identity_and_day)
    deferred.clear()
    with _marked_whole(conn, days):
        upsert_daily_tuples(conn, rows, replace=False, absent=ABSENT)


@contextmanager
def _marked_whole(conn: Connection, days: Collection[date]) -> Iterator[None]:
    """On SQLite, when every one of `days` holds a whole-day weekly mark: the rollup's
    insert and update triggers dropped inside, and put back as they were, all in the
    caller's transaction (SQLite's schema changes are transactional, so no other connection
    ever sees them gone, and a kill rolls them back with the rows). A marked day's triggers
    only look the mark up and do nothing (migration 0150_backfill); that look-up was a
    tenth of writing a year's backfill."""
    if conn.dialect.name != "sqlite" or not days:
        yield
        return
    whole = conn.scalar(
        select(func.count(distinct(WeeklyStaleRow.day))).where(
            WeeklyStaleRow.day.in_(sorted(days)), WeeklyStaleRow.person_id.is_(None)
        )
    )
    triggers = conn.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = "
            "'usage_daily' AND name IN ('usage_weekly_ins', 'usage_weekly_upd')"
        )
    ).all()
    if whole != len(set(days)) or not triggers:
        yield
        return
    for name, _ in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        # Back even after a failed statement, which leaves the transaction open; not after
        # one SQLite answered by rolling the whole transaction back, which put them back.
        driver = conn.connection.dbapi_connection
        if driver is not None and driver.in_transaction:
            for _, sql in triggers:
                conn.exec_driver_sql(sql)


def _prepared_rows(
    conn: Connection, days: PreparedDays, identities: Mapping[IdentityKey, int]
) -> list[tuple[Any, ...]]:
    """Whole days' rows with their identity ids put in front, in key order; the days
    were cleared."""
    form = daily_day_form(conn.dialect.name)
    rows: list[tuple[Any, ...]] = []
    add = rows.append
    for day, people in days.days.items():
        head_of_day = form(day)
        for key, tails in people:
            identity_id = identities.get(key)
            if identity_id is None:
                continue  # forgotten: dropped
            head = (identity_id, head_of_day)
            for tail in tails:
                add(head + tail)
    # Key order, as `replace_in`'s: each person's tails come in (tool, kind, origin) order
    # and the sort is stable, so ordering by (identity, day) is enough; by identity alone
    # for a single day.
    rows.sort(key=_identity if len(days.days) == 1 else _identity_and_day)
    return rows


_identity, _identity_and_day = itemgetter(0), itemgetter(0, 1)
