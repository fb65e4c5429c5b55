"""Vendor reports into the daily rollup. Each report owns its origin, and the first time an
import meets a (origin, person, day) it clears what was there, so re-importing a file or an
overlapping one replaces figures instead of adding to them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import delete, or_

from storage.bulk import DAILY_KEY, upsert_daily
from storage.db import Database
from storage.events import identity_ids, identity_key, rollup
from storage.figures import NAMES
from storage.models import DailyRow
from storage.privacy_door import retry_after_forget
from storage.records import ReportDay

ReplacedKey = tuple[str, int, date]  # origin, identity id, day
WHOLE_DAY = 0  # in place of an identity id: the whole day of that source was cleared


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
    base = report_origin(source, integration, None)
    fresh = sorted(day for day in whole if (base, WHOLE_DAY, day) not in replaced)
    # The same first step as every door: identities resolved (forgotten people left out)
    # before the write lock is taken.
    identities = identity_ids(db, {identity_key(d.user) for d in days}, now)
    days = [d for d in days if identity_key(d.user) in identities]  # forgotten: dropped
    with db.write() as conn:
        if fresh:
            replaced.update((base, WHOLE_DAY, day) for day in fresh)
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
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in days:
            origin = report_origin(source, integration, item.client)
            identity_id = identities[identity_key(item.user)]
            key = (origin, identity_id, item.day)
            if key not in replaced:
                replaced.add(key)
                if item.day not in whole:
                    to_clear[(origin, item.day)].add(identity_id)
            for figures in item.figures:
                rows[origin].append(
                    {
                        "identity_id": identity_id,
                        "day": item.day,
                        "tool": item.tool,
                        "kind": figures.kind,
                        **{name: getattr(figures, name) for name in NAMES},
                    }
                )
        for (origin, day), cleared_ids in sorted(to_clear.items()):
            conn.execute(
                delete(DailyRow).where(
                    DailyRow.origin == origin,
                    DailyRow.day == day,
                    DailyRow.identity_id.in_(sorted(cleared_ids)),
                )
            )
        daily = [total for origin, group in rows.items() for total in rollup(group, origin)]
        # one statement for every origin, in key order so concurrent writers cannot deadlock
        upsert_daily(conn, sorted(daily, key=itemgetter(*DAILY_KEY)), replace=False)
