"""Retention and forget on a full database: how long `prune` takes, how long its longest
single transaction (the longest any writer waits on it) holds the lock, and one forget.

    python bench/prune.py                  # 200,000 events over 180 days, SQLite and PostgreSQL
    python bench/prune.py --events 20000   # a quick look
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from common import fresh_database, postgres_reachable

from jobs.award_rules import AwardRules
from jobs.privacy import forget_person
from jobs.retention import RetentionConfig, cutoffs
from storage.db import Database
from storage.events import record_events
from storage.integrations import create_integration
from storage.privacy_read import find_subject
from storage.records import UsageEvent, UserRef
from storage.retention import prune

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)
PEOPLE = 2000


def fill(db: Database, n: int) -> None:
    integration, _ = create_integration(db, "bench", NOW)
    start = NOW - timedelta(days=180)
    step = timedelta(days=180) / n
    batch: list[UsageEvent] = []
    for i in range(n):
        batch.append(
            UsageEvent(
                event_id=f"b{i}",
                user=UserRef(slack_user_id=f"U{i % PEOPLE:05d}"),
                occurred_at=start + step * i,
                tool="kiro",
                input_tokens=100,
            )
        )
        if len(batch) == 1000:
            record_events(db, integration.id, batch, NOW)
            batch = []
    if batch:
        record_events(db, integration.id, batch, NOW)


def run(kind: str, n: int, batch: int | None) -> None:
    with tempfile.TemporaryDirectory() as workdir, fresh_database(kind, workdir) as url:
        db = Database(url, ZoneInfo("UTC"))
        db.upgrade()
        fill(db, n)
        marks = [time.perf_counter()]
        started = marks[0]
        counts = prune(
            db,
            cutoffs(RetentionConfig(tz=ZoneInfo("UTC")), NOW),
            on_batch=lambda: marks.append(time.perf_counter()),
            **({"batch": batch} if batch else {}),
        )
        total = time.perf_counter() - started
        spans = sorted(b - a for a, b in itertools.pairwise(marks))
        longest, median = spans[-1], spans[len(spans) // 2]
        subject = find_subject(db, slack_user_id="U00007")
        assert subject is not None
        t0 = time.perf_counter()
        report = forget_person(db, subject, actor="bench", now=NOW, editor=None, rules=AwardRules())
        forget_s = time.perf_counter() - t0
        print(
            f"{kind:10} {n:>8,} events: prune deleted {counts['events']:,} in {total:.2f} s, "
            f"batch median {median * 1000:.0f} ms, longest {longest * 1000:.0f} ms; "
            f"forget of one person ({report.forgotten.counts['events']} events) "
            f"{forget_s * 1000:.0f} ms"
        )
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=None, help="rows per delete transaction")
    args = parser.parse_args()
    run("sqlite", args.events, args.batch)
    if postgres_reachable():
        run("postgresql", args.events, args.batch)


if __name__ == "__main__":
    main()
