"""Vendor reports into the daily rollup. Each report owns its origin, and the first time an
import meets a (origin, person, day) it clears what was there, so re-importing a file or an
overlapping one replaces figures instead of adding to them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, delete, insert, or_

from storage.bounds import COST_DAY_CAP, DAY_CAP
from storage.bulk import daily_day_form, upsert_daily_tuples
from storage.db import Database
from storage.events import identity_ids, identity_key
from storage.figures import NAMES, is_whole
from storage.models import DailyRow, WeeklyStaleRow
from storage.people import IdentityKey
from storage.privacy_door import retry_after_forget
from storage.records import ReportDay

ReplacedKey = tuple[str, int, date]  # origin, identity id, day
WHOLE_DAY = 0  # in place of an identity id: the whole day of that source was cleared
_figures_of = attrgetter(*NAMES)  # a report part's figures, in the order of NAMES
_CAPS = tuple(DAY_CAP if is_whole(name) else COST_DAY_CAP for name in NAMES)
_KEY_COLUMNS = 5  # a rollup row's figures follow its key's five columns (DAILY_COLUMNS)
# A whole day replaced for at least this many people gets one whole-day weekly mark, which
# sums its week again for everyone, instead of a mark per person from the row triggers
# (about 3 µs a rollup row on SQLite). Fewer people: the week's re-sum reads theirs alone.
WHOLE_DAY_MARK_PEOPLE = 500


def report_origin(source: str, integration: str | None, client: str | None) -> str:
    """The origin a report's figures are kept under, e.g. `import:kiro@acme:kiro_ide`."""
    origin = f"import:{source}" + (f"@{integration}" if integration else "")
    return origin + (f":{client}" if client else "")


def replace_report_days(
    db: Database,
    source: str,
    integration: str | None,
    days: Sequence[ReportDay],
    replaced: set[ReplacedKey],
    now: datetime,
    *,
    whole_days: Collection[date] = (),
) -> None:
    """Store a chunk of a report in one transaction. `replaced` holds the keys this import
    already cleared; it is updated, so a key spread over several chunks is cleared once.
    `whole_days` are days the caller holds complete (a connector's fetch): everything this
    source said of them before is cleared once, people since dropped from the day included,
    and their rows need no clearing one person at a time."""
    if not days and not whole_days:
        return

    def attempt() -> set[ReplacedKey]:
        # Works on a copy: a transaction retried after a concurrent forget clears again.
        cleared = set(replaced)
        _replace(db, source, integration, days, cleared, now, set(whole_days))
        return cleared

    replaced.update(retry_after_forget(db, now, attempt))


def _replace(
    db: Database,
    source: str,
    integration: str | None,
    days: Sequence[ReportDay],
    replaced: set[ReplacedKey],
    now: datetime,
    whole: set[date],
) -> None:
    # The same first step as every door: identities resolved (forgotten people left out)
    # before the write lock is taken.
    identities = identity_ids(db, {identity_key(d.user) for d in days}, now)
    with db.write() as conn:
        replace_in(conn, source, integration, days, identities, replaced, whole)


def replace_in(
    conn: Connection,
    source: str,
    integration: str | None,
    days: Sequence[ReportDay],
    identities: Mapping[IdentityKey, int],
    replaced: set[ReplacedKey],
    whole: Collection[date],
) -> None:
    """`replace_report_days`' writes, in the caller's transaction, with the chunk's
    identities already resolved (a person missing from `identities` is forgotten: dropped)."""
    base = report_origin(source, integration, None)
    whole = set(whole)
    fresh = sorted(day for day in whole if (base, WHOLE_DAY, day) not in replaced)
    if fresh:
        replaced.update((base, WHOLE_DAY, day) for day in fresh)
        if conn.dialect.name == "sqlite" and len(days) >= WHOLE_DAY_MARK_PEOPLE:
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
    to_clear: dict[tuple[str, date], set[int]] = defaultdict(set)
    # Each rollup row in the rollup's column order (its day in `daily_day_form`), by its key.
    totals: dict[tuple[Any, ...], list[Any]] = {}
    origins: dict[str | None, str] = {}
    form = daily_day_form(conn.dialect.name)
    formed: dict[date, Any] = {}
    for item in days:
        identity_id = identities.get(identity_key(item.user))
        if identity_id is None:
            continue  # forgotten: dropped
        if (origin := origins.get(item.client)) is None:
            origin = origins[item.client] = report_origin(source, integration, item.client)
        day, tool = item.day, item.tool
        if (day_form := formed.get(day)) is None:
            day_form = formed[day] = form(day)
        # A whole day was cleared above; any other is cleared person by person, once.
        if day not in whole and (key := (origin, identity_id, day)) not in replaced:
            replaced.add(key)
            to_clear[(origin, day)].add(identity_id)
        for figures in item.figures:
            kind = figures.kind
            daily_key = (identity_id, day, tool, kind, origin)
            if (acc := totals.get(daily_key)) is None:
                totals[daily_key] = [identity_id, day_form, tool, kind, origin,
                                     *_figures_of(figures), 1]  # fmt: skip
            else:
                _add(acc, _figures_of(figures))
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


def _add(acc: list[Any], figures: tuple[Any, ...]) -> None:
    """Add a second part of one rollup key (a report that names a person twice) to the first
    (a row in the rollup's column order), keeping None for what neither reported and holding
    each sum at the rollup's caps. A single part needs no capping: every door bounds an item
    far below them (`storage.bounds`)."""
    for i, (cap, value) in enumerate(zip(_CAPS, figures, strict=True), start=_KEY_COLUMNS):
        if value is None:
            continue
        total = value if acc[i] is None else acc[i] + value
        acc[i] = cap if total > cap else total
    acc[-1] += 1  # events: the parts summed
